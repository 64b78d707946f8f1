//! scratch
#[test]
fn stem() {
    use tantivy::tokenizer::*;
    for lang in [Language::German, Language::English] {
        let mut a = TextAnalyzer::builder(SimpleTokenizer::default()).filter(LowerCaser).filter(Stemmer::new(lang)).build();
        for w in ["Kameras", "Kamera", "Jacke", "Jacken", "Regenjacken", "Schuhe", "Schuh", "cameras", "camera", "jackets", "Häuser", "Haus", "Bücher"] {
            let mut s = a.token_stream(w);
            while s.advance() { println!("{lang:?} {w} -> {}", s.token().text); }
        }
    }
}
