//! The subcommands' terminal side: progress bars, summaries and messages around the library
//! calls. Library code never prints; these modules do.

pub mod demo;
pub mod doctor;
pub mod embed;
pub mod export;
pub mod learn;
pub mod progress;
pub mod scan;
pub mod seed;
