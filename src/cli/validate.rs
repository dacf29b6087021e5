//! `faultline validate`: checks scenario files and prints every problem with file,
//! line:column and field path (exit 2 if any file has one), and the warnings of valid ones
//! (exit 0).

use super::{ValidateArgs, EXIT_BAD_INPUT};
use crate::engine::format_duration;
use crate::scenario::{self, Overrides};
use anyhow::Result;

pub(super) fn cmd_validate(a: ValidateArgs) -> Result<i32> {
    let mut bad = 0;
    for f in &a.files {
        match scenario::load_file(f, &Overrides::default()) {
            Ok(l) => {
                let s = &l.scenario;
                eprint!(
                    "{}",
                    scenario::render_warnings(&f.display().to_string(), &s.warnings)
                );
                println!(
                    "{}: ok ({} client{}, {} service{}, {} simulated, seed {})",
                    f.display(),
                    s.system.clients.len(),
                    if s.system.clients.len() == 1 { "" } else { "s" },
                    s.system.services.len(),
                    if s.system.services.len() == 1 {
                        ""
                    } else {
                        "s"
                    },
                    format_duration(s.duration.0),
                    s.seed
                );
            }
            Err(e) => {
                bad += 1;
                eprintln!("error: {e}");
            }
        }
    }
    Ok(if bad > 0 { EXIT_BAD_INPUT } else { 0 })
}
