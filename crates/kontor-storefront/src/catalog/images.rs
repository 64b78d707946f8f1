//! Image-set resources (`abstract-product-image-sets`, `concrete-product-image-sets`).
//!
//! A concrete product's document holds only its own sets; the abstract's sets of other names are added
//! here (Spryker's combined image sets), so variants without photos show the product's.

use kontor_readmodel::search::SearchImage;
use kontor_readmodel::storage::{ProductImageSetStorage, ProductImageStorage};
use serde::Serialize;
use serde_json::{Value, json};

fn image_json(image: &ProductImageStorage) -> Value {
    json!({"externalUrlLarge": image.external_url_large, "externalUrlSmall": image.external_url_small})
}

fn set_json(set: &ProductImageSetStorage) -> Value {
    json!({"name": set.name, "images": set.images.iter().map(image_json).collect::<Vec<_>>()})
}

/// The `own` sets, then the `inherited` sets whose names `own` lacks.
pub(crate) fn combined_sets<'s>(
    own: &'s [ProductImageSetStorage],
    inherited: &'s [ProductImageSetStorage],
) -> Vec<&'s ProductImageSetStorage> {
    own.iter()
        .chain(
            inherited
                .iter()
                .filter(|set| !own.iter().any(|mine| mine.name == set.name)),
        )
        .collect()
}

/// `{"imageSets": [...]}` of `own` sets, plus the `inherited` sets whose names `own` lacks.
pub(crate) fn image_set_attributes(own: &[ProductImageSetStorage], inherited: &[ProductImageSetStorage]) -> Value {
    let sets: Vec<Value> = combined_sets(own, inherited).into_iter().map(set_json).collect();
    json!({"imageSets": sets})
}

/// One image of a listing (search hit, suggestion, product card).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct ListingImage {
    pub external_url_small: String,
    pub external_url_large: String,
}

impl From<&ProductImageStorage> for ListingImage {
    fn from(image: &ProductImageStorage) -> Self {
        Self {
            external_url_small: image.external_url_small.clone(),
            external_url_large: image.external_url_large.clone(),
        }
    }
}

impl From<&SearchImage> for ListingImage {
    fn from(image: &SearchImage) -> Self {
        Self {
            external_url_small: image.external_url_small.clone(),
            external_url_large: image.external_url_large.clone(),
        }
    }
}

/// Listing images of a search hit or suggestion: the `default` set, else the first one.
pub(crate) fn listing_images(sets: &[ProductImageSetStorage]) -> Vec<ListingImage> {
    sets.iter()
        .find(|set| set.name == "default")
        .or_else(|| sets.first())
        .map(|set| set.images.iter().map(ListingImage::from).collect())
        .unwrap_or_default()
}
