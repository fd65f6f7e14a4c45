//! Seeds the `gate` fuzz target's corpus with every catalogue sample (up to 128 KiB), in the
//! target's input layout: 8 header bytes (declared type, policy, cut, extra length), then the
//! file. Usage: `cargo run -p vetted-samples --example fuzz_corpus -- fuzz/corpus/gate`.

use std::path::PathBuf;

fn main() -> std::io::Result<()> {
    let dir = PathBuf::from(
        std::env::args()
            .nth(1)
            .unwrap_or_else(|| "fuzz/corpus/gate".into()),
    );
    std::fs::create_dir_all(&dir)?;
    let mut written = 0;
    for sample in vetted_samples::catalogue() {
        if sample.bytes.len() > 128 * 1024 {
            continue;
        }
        let declared = match sample.declared_type {
            "image/png" => 0,
            "image/jpeg" => 1,
            "image/webp" => 2,
            _ => 3,
        };
        let cut = u16::try_from(sample.bytes.len() / 2).unwrap_or(u16::MAX);
        let mut input = vec![declared, 0];
        input.extend(cut.to_le_bytes());
        input.extend(1000u32.to_le_bytes());
        input.extend(&sample.bytes);
        std::fs::write(dir.join(sample.name), input)?;
        written += 1;
    }
    println!("{written} seeds in {}", dir.display());
    Ok(())
}
