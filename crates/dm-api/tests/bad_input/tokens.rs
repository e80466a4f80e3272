//! Tokens that are wrong in every way, on a read and on a write.

use base64::{Engine, engine::general_purpose::URL_SAFE_NO_PAD};
use dm_api::auth::{Claims, LOCAL_ISSUER};
use jsonwebtoken::{Algorithm, EncodingKey, Header};

use super::{common::KEY, *};

pub(crate) fn cases(andrew_sub: &str) -> Vec<Case> {
    let mut cases = Vec::new();
    // Tokens, on a read and on a write.
    for (name, auth, code) in token_cases(andrew_sub) {
        cases.push(get_case(
            &format!("{name} (read)"),
            "/api/message_groups".into(),
            auth.clone(),
            401,
            code,
        ));
        let mut write = json_case(
            &format!("{name} (write)"),
            json!({"message": "hi", "handle": "bayko"}),
            401,
            code,
        );
        write.auth = auth;
        cases.push(write);
    }
    cases
}

fn now() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs()
}

fn claims(sub: &str) -> Claims {
    Claims {
        sub: sub.into(),
        token_use: Some("access".into()),
        client_id: Some(LOCAL_ISSUER.into()),
        iss: LOCAL_ISSUER.into(),
        exp: now() + 600,
        iat: Some(now()),
        nbf: None,
    }
}

fn signed(claims: &Claims, key: &[u8]) -> String {
    jsonwebtoken::encode(
        &Header::new(Algorithm::HS256),
        claims,
        &EncodingKey::from_secret(key),
    )
    .unwrap()
}

fn bearer(token: String) -> Auth {
    Auth::Header(format!("Bearer {token}"))
}

/// The token cases: each a way a token can be wrong.
fn token_cases(andrew_sub: &str) -> Vec<(&'static str, Auth, &'static str)> {
    let good = claims(andrew_sub);
    let mut expired = good.clone();
    expired.exp = now() - 3600;
    let mut issuer = good.clone();
    issuer.iss = "https://evil.example".into();
    let mut id_token = good.clone();
    id_token.token_use = Some("id".into());
    let mut client = good.clone();
    client.client_id = Some("another-client".into());
    let mut early = good.clone();
    early.nbf = Some(now() + 600);
    let none_alg = {
        let header = URL_SAFE_NO_PAD.encode(br#"{"alg":"none","typ":"JWT"}"#);
        let body = URL_SAFE_NO_PAD.encode(serde_json::to_vec(&good).unwrap());
        format!("{header}.{body}.")
    };
    let tampered = {
        let token = signed(&good, KEY);
        let mut parts: Vec<String> = token.split('.').map(str::to_owned).collect();
        let mut other = good.clone();
        other.sub = dm_store::seed::USERS[2].sub.into();
        parts[1] = URL_SAFE_NO_PAD.encode(serde_json::to_vec(&other).unwrap());
        parts.join(".")
    };
    vec![
        ("no authorization header", Auth::None, "token_missing"),
        (
            "empty bearer",
            Auth::Header("Bearer ".into()),
            "token_missing",
        ),
        (
            "basic scheme",
            Auth::Header("Basic YW5kcmV3OnB3".into()),
            "token_missing",
        ),
        ("garbage token", bearer("not.a.jwt".into()), "token_invalid"),
        (
            "expired token",
            bearer(signed(&expired, KEY)),
            "token_invalid",
        ),
        (
            "forged with another key",
            bearer(signed(&good, b"someone else's key")),
            "token_invalid",
        ),
        ("alg none", bearer(none_alg), "token_invalid"),
        ("tampered payload", bearer(tampered), "token_invalid"),
        (
            "wrong issuer",
            bearer(signed(&issuer, KEY)),
            "token_invalid",
        ),
        (
            "id token, not access",
            bearer(signed(&id_token, KEY)),
            "token_invalid",
        ),
        (
            "another client",
            bearer(signed(&client, KEY)),
            "token_invalid",
        ),
        (
            "valid token of no user",
            bearer(signed(&claims("no-such-subject"), KEY)),
            "user_unknown",
        ),
    ]
}
