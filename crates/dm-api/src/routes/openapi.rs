//! The OpenAPI document of every route (utoipa), served at
//! `/api/openapi.json`.

use axum::{Json, Router, http::StatusCode, response::IntoResponse, routing::get};
use dm_stream::live::{ConversationJson, Frame, GroupJson, MemberJson, MessageJson, ReadThrough};
use utoipa::OpenApi;

use super::{groups, health, message_groups, messages, users};
use crate::{
    AppState,
    error::ErrorBody,
    input::{AddMembersIn, EditIn, NewGroupIn, NewMessageIn, RenameIn},
};

/// The routes of this resource.
pub(super) fn router() -> Router<AppState> {
    Router::new().route("/api/openapi.json", get(openapi))
}

/// The OpenAPI document of the routes above.
#[derive(OpenApi)]
#[openapi(
    info(title = "Cruddur direct messaging", description = "The messaging routes of the Cruddur frontend."),
    paths(
        message_groups::message_groups, messages::messages, messages::create_message,
        messages::edit_message, messages::delete_message, message_groups::mark_read,
        users::user_short, users::me, crate::live::socket, health::healthz, health::readyz,
        groups::create, groups::show, groups::rename, groups::add_members, groups::remove_member,
    ),
    components(schemas(
        ConversationJson, MessageJson, messages::CreatedMessageOut, NewMessageIn, EditIn,
        ReadThrough, message_groups::ReadOut, users::MeOut, users::UserShortOut,
        health::StatusOut, ErrorBody, Frame, GroupJson, MemberJson, NewGroupIn,
        RenameIn, AddMembersIn,
    )),
    modifiers(&BearerAuth)
)]
#[derive(Debug)]
pub struct ApiDoc;

struct BearerAuth;

impl utoipa::Modify for BearerAuth {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        use utoipa::openapi::security::{HttpAuthScheme, HttpBuilder, SecurityScheme};
        let components = openapi.components.get_or_insert_with(Default::default);
        components.add_security_scheme(
            "bearer",
            SecurityScheme::Http(
                HttpBuilder::new()
                    .scheme(HttpAuthScheme::Bearer)
                    .bearer_format("JWT")
                    .build(),
            ),
        );
    }
}

/// `GET /api/openapi.json`.
pub async fn openapi() -> impl IntoResponse {
    (StatusCode::OK, Json(ApiDoc::openapi()))
}
