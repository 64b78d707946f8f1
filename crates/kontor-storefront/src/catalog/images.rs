//! Image-set resources (`abstract-product-image-sets`, `concrete-product-image-sets`).
//!
//! A concrete product's document holds only its own sets; the abstract's sets of other names are added
//! here (Spryker's combined image sets), so variants without photos show the product's.

use kontor_readmodel::storage::{ProductImageSetStorage, ProductImageStorage};
use serde_json::{Value, json};

fn image_json(image: &ProductImageStorage) -> Value {
    json!({"externalUrlLarge": image.external_url_large, "externalUrlSmall": image.external_url_small})
}

fn set_json(set: &ProductImageSetStorage) -> Value {
    json!({"name": set.name, "images": set.images.iter().map(image_json).collect::<Vec<_>>()})
}

/// `{"imageSets": [...]}` of `own` sets, plus the `inherited` sets whose names `own` lacks.
pub(crate) fn image_set_attributes(own: &[ProductImageSetStorage], inherited: &[ProductImageSetStorage]) -> Value {
    let sets: Vec<Value> = own
        .iter()
        .chain(
            inherited
                .iter()
                .filter(|set| !own.iter().any(|mine| mine.name == set.name)),
        )
        .map(set_json)
        .collect();
    json!({"imageSets": sets})
}

/// Listing images of a search hit or suggestion: the `default` set, else the first one.
pub(crate) fn listing_images(sets: &[ProductImageSetStorage]) -> Vec<Value> {
    sets.iter()
        .find(|set| set.name == "default")
        .or_else(|| sets.first())
        .map(|set| {
            set.images
                .iter()
                .map(|image| {
                    json!({"externalUrlSmall": image.external_url_small, "externalUrlLarge": image.external_url_large})
                })
                .collect()
        })
        .unwrap_or_default()
}
