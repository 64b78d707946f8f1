//! Text analysis: the per-locale full-text analyzer, the SKU normaliser and the edge n-grams behind
//! suggestions.
//!
//! The schema names its analyzers ([`TEXT_ANALYZER`], [`SKU_ANALYZER`]) but not their language; every
//! index registers the analyzer of its own locale under the same name when it is opened. That keeps one
//! fixed schema for all store × locale indexes while German text is stemmed as German and English as
//! English.

use tantivy::Index;
use tantivy::tokenizer::{
    Language, LowerCaser, RawTokenizer, RemoveLongFilter, SimpleTokenizer, Stemmer, TextAnalyzer, Token, TokenFilter,
    TokenStream, Tokenizer,
};

/// Analyzer name of the `full-text` / `full-text-boosted` fields.
pub(crate) const TEXT_ANALYZER: &str = "kontor_text";
/// Analyzer name of the SKU field: the whole SKU, lower-cased (SKUs are case-insensitive, spec §4).
pub(crate) const SKU_ANALYZER: &str = "kontor_sku";

/// Shortest and longest edge n-gram indexed for suggestions (spec §7: 2–20).
pub(crate) const MIN_GRAM: usize = 2;
pub(crate) const MAX_GRAM: usize = 20;

/// Longer tokens are noise (base64, URLs) and would only bloat the term dictionary.
const MAX_TOKEN_BYTES: usize = 40;

/// Registers this index's analyzers; must run before a writer or query parser uses the index.
pub(crate) fn register_analyzers(index: &Index, language: &str) {
    index.tokenizers().register(TEXT_ANALYZER, text_analyzer(language));
    index.tokenizers().register(
        SKU_ANALYZER,
        TextAnalyzer::builder(RawTokenizer::default())
            .filter(LowerCaser)
            .build(),
    );
}

/// The full-text analyzer for an ISO 639-1 language; unknown languages get tokenising and lower-casing
/// only, which is still correct, just without stemming.
pub(crate) fn text_analyzer(language: &str) -> TextAnalyzer {
    let base = TextAnalyzer::builder(SimpleTokenizer::default())
        .filter(RemoveLongFilter::limit(MAX_TOKEN_BYTES))
        .filter(LowerCaser);
    match stemmer_language(language) {
        // Snowball German leaves loan-word plurals on a vowel + `s` alone (`kameras`, `autos`), which
        // shoppers type all the time; strip that `s` after stemming.
        Some(Language::German) => base
            .filter(Stemmer::new(Language::German))
            .filter(GermanLoanPluralFilter)
            .build(),
        Some(language) => base.filter(Stemmer::new(language)).build(),
        None => base.build(),
    }
}

fn stemmer_language(language: &str) -> Option<Language> {
    Some(match language {
        "ar" => Language::Arabic,
        "da" => Language::Danish,
        "de" => Language::German,
        "el" => Language::Greek,
        "en" => Language::English,
        "es" => Language::Spanish,
        "fi" => Language::Finnish,
        "fr" => Language::French,
        "hu" => Language::Hungarian,
        "it" => Language::Italian,
        "nl" => Language::Dutch,
        "nb" | "nn" | "no" => Language::Norwegian,
        "pt" => Language::Portuguese,
        "ro" => Language::Romanian,
        "ru" => Language::Russian,
        "sv" => Language::Swedish,
        "ta" => Language::Tamil,
        "tr" => Language::Turkish,
        _ => return None,
    })
}

/// Runs an analyzer over a text and returns its terms.
pub(crate) fn analyze(analyzer: &mut TextAnalyzer, text: &str) -> Vec<String> {
    let mut terms = Vec::new();
    let mut stream = analyzer.token_stream(text);
    while stream.advance() {
        terms.push(stream.token().text.clone());
    }
    terms
}

/// Lower-cased words of a text, split like the full-text tokenizer does (letters and digits).
pub(crate) fn words(text: &str) -> impl Iterator<Item = String> + '_ {
    text.split(|c: char| !c.is_alphanumeric())
        .filter(|word| !word.is_empty())
        .map(str::to_lowercase)
}

/// Edge n-grams (prefixes of `MIN_GRAM..=MAX_GRAM` characters) of every word of `text`. Indexed as plain
/// terms, so a prefix query is a single term lookup instead of a term-dictionary scan.
pub(crate) fn edge_ngrams(text: &str, out: &mut Vec<String>) {
    for word in words(text) {
        let mut prefix = String::new();
        for (count, c) in word.chars().enumerate() {
            if count == MAX_GRAM {
                break;
            }
            prefix.push(c);
            if count + 1 >= MIN_GRAM {
                out.push(prefix.clone());
            }
        }
    }
}

/// The n-gram a typed word is looked up by: words longer than `MAX_GRAM` are cut, as at index time.
pub(crate) fn ngram_of(word: &str) -> String {
    word.chars().take(MAX_GRAM).collect()
}

/// Strips a final `s` after `a`, `o` or `y` (`kameras` → `kamera`, `handys` → `handy`) from words of five or
/// more characters. Applied at index and query time alike, so a rare over-stemming only merges two
/// spellings, it never loses a match.
#[derive(Clone)]
struct GermanLoanPluralFilter;

impl TokenFilter for GermanLoanPluralFilter {
    type Tokenizer<T: Tokenizer> = GermanLoanPluralTokenizer<T>;

    fn transform<T: Tokenizer>(self, tokenizer: T) -> Self::Tokenizer<T> {
        GermanLoanPluralTokenizer { inner: tokenizer }
    }
}

#[derive(Clone)]
struct GermanLoanPluralTokenizer<T> {
    inner: T,
}

impl<T: Tokenizer> Tokenizer for GermanLoanPluralTokenizer<T> {
    type TokenStream<'a> = GermanLoanPluralStream<T::TokenStream<'a>>;

    fn token_stream<'a>(&'a mut self, text: &'a str) -> Self::TokenStream<'a> {
        GermanLoanPluralStream {
            tail: self.inner.token_stream(text),
        }
    }
}

struct GermanLoanPluralStream<T> {
    tail: T,
}

impl<T: TokenStream> TokenStream for GermanLoanPluralStream<T> {
    fn advance(&mut self) -> bool {
        if !self.tail.advance() {
            return false;
        }
        let text = &mut self.tail.token_mut().text;
        let chars: Vec<char> = text.chars().rev().take(2).collect();
        if text.chars().count() >= 5 && matches!(chars.as_slice(), ['s', 'a' | 'o' | 'y']) {
            text.pop();
        }
        true
    }

    fn token(&self) -> &Token {
        self.tail.token()
    }

    fn token_mut(&mut self) -> &mut Token {
        self.tail.token_mut()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn german_folds_plurals_onto_the_singular() {
        let mut analyzer = text_analyzer("de");
        assert_eq!(analyze(&mut analyzer, "Kameras Kamera"), ["kamera", "kamera"]);
        assert_eq!(
            analyze(&mut analyzer, "Regenjacken Regenjacke"),
            ["regenjack", "regenjack"]
        );
        assert_eq!(analyze(&mut analyzer, "Haus"), ["haus"]);
    }

    #[test]
    fn english_stems_and_unknown_languages_only_lowercase() {
        assert_eq!(analyze(&mut text_analyzer("en"), "Cameras"), ["camera"]);
        assert_eq!(analyze(&mut text_analyzer("xx"), "Cameras"), ["cameras"]);
    }

    #[test]
    fn edge_ngrams_cover_two_to_twenty_characters_per_word() {
        let mut grams = Vec::new();
        edge_ngrams("Fjell Rain", &mut grams);
        assert_eq!(grams, ["fj", "fje", "fjel", "fjell", "ra", "rai", "rain"]);
        let mut long = Vec::new();
        edge_ngrams(&"x".repeat(30), &mut long);
        assert_eq!(long.len(), MAX_GRAM - MIN_GRAM + 1);
    }
}
