//! The subcommands' terminal side: progress bars, summaries and messages around the library
//! calls. Library code never prints; these modules do, through one door (`out`) that escapes
//! whatever outside text a line carries.

pub mod demo;
pub mod doctor;
pub mod embed;
pub mod export;
pub mod label;
pub mod learn;
pub mod out;
pub mod progress;
pub mod scan;
pub mod seed;
