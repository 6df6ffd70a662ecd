//! `/@<address>`: a creator's page. The server only checks the address's form and serves `creator.html`
//! from the web app; the page fetches `/api/channels/<address>` and verifies it itself.

use std::path::Path;

use axum::extract::Request;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use seedcast::creator::Address;
use tower::ServiceExt;
use tower_http::services::ServeFile;

/// The page file inside `--www`.
pub const CREATOR_PAGE: &str = "creator.html";

/// The address of a `/@…` path: `0x` + 40 hex digits, lower case or EIP-55 checksummed (all upper case too);
/// a wrong checksum, a trailing slash or anything else is not a creator page.
pub fn page_address(path: &str) -> Option<Address> {
    Address::parse(path.strip_prefix("/@")?).ok()
}

/// Serves `www/creator.html` for a valid `/@<address>`, 404 otherwise.
pub async fn serve(www: Option<&Path>, request: Request) -> Response {
    let (Some(www), Some(_)) = (www, page_address(request.uri().path())) else {
        return (StatusCode::NOT_FOUND, "not found\n").into_response();
    };
    match ServeFile::new(www.join(CREATOR_PAGE))
        .oneshot(request)
        .await
    {
        Ok(response) => response.into_response(),
        Err(never) => match never {},
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_well_formed_addresses_are_pages() {
        let checksummed = "/@0x5FbDB2315678afecb367f032d93F642f64180aa3";
        assert!(page_address(checksummed).is_some());
        assert!(page_address(&checksummed.to_ascii_lowercase()).is_some());
        for bad in [
            "/@0x5fbDB2315678afecb367f032d93F642f64180aa3", // wrong checksum
            "/@0x5FbDB2315678afecb367f032d93F642f64180aa",
            "/@0x5FbDB2315678afecb367f032d93F642f64180aa3/",
            "/@alice",
            "/0x5FbDB2315678afecb367f032d93F642f64180aa3",
        ] {
            assert!(page_address(bad).is_none(), "{bad}");
        }
    }
}
