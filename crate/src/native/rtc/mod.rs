//! Native WebRTC for the driver: one peer connection per session connection, each with one
//! ordered reliable data channel ([`conn`]), how they reach the network ([`config`]), and what
//! we read from a remote SDP ourselves ([`sdp`]).

pub mod config;
pub mod conn;
pub mod sdp;

pub use config::{Mdns, RtcConfig, RtcConfigError};
pub use conn::{Conn, ConnEvent, EventSender};
