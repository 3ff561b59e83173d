//! CTranslate2 called directly through ct2rs, with no gateway and no tokenizer: how fast this
//! build's matrix-product backend translates, against Python CTranslate2 on the same pieces.
//!
//!     ct2_direct <CTranslate2 model dir> <threads> <pieces.tsv> [rounds]
//!
//! `pieces.tsv` holds one source sentence per line as SentencePiece pieces separated by tabs. The
//! sentences go in batches of 10, greedy; one untimed round, then `rounds` timed ones (default 4),
//! each printed as a JSON line {"round", "sentences", "secs"}; then the first round's first output.
//! `CT2_USE_MKL=1` / `0` forces MKL on or off where the build has it (CTranslate2 otherwise uses
//! MKL on Intel CPUs only); `CT2_VERBOSE=1` logs the backends CTranslate2 picked.

use std::time::Instant;

use ct2rs::sys::{Config, TranslationOptions, Translator};

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args: Vec<String> = std::env::args().collect();
    if args.len() < 4 {
        eprintln!("usage: ct2_direct <CTranslate2 model dir> <threads> <pieces.tsv> [rounds]");
        std::process::exit(2);
    }
    let threads: usize = args[2].parse()?;
    let rounds: usize = args.get(4).map(|r| r.parse()).transpose()?.unwrap_or(4);
    let sentences: Vec<Vec<String>> = std::fs::read_to_string(&args[3])?
        .lines()
        .filter(|l| !l.is_empty())
        .map(|l| l.split('\t').map(String::from).collect())
        .collect();
    let config = Config { num_threads_per_replica: threads.max(1), ..Config::default() };
    let translator = Translator::new(&args[1], &config)?;
    let options: TranslationOptions<String, String> = TranslationOptions { beam_size: 1, ..Default::default() };
    let mut first = None;
    for round in 0..=rounds {
        let start = Instant::now();
        for batch in sentences.chunks(10) {
            let results = translator.translate_batch(batch, &options, None)?;
            if first.is_none() {
                first = results.into_iter().next().and_then(|r| r.hypotheses.into_iter().next());
            }
        }
        if round > 0 {
            let secs = start.elapsed().as_secs_f64();
            println!("{{\"round\": {round}, \"sentences\": {}, \"secs\": {secs:.4}}}", sentences.len());
        }
    }
    println!("{}", first.unwrap_or_default().join(" "));
    Ok(())
}
