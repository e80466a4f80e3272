//! deploy/template.yaml's table is the table `schema-load` creates: the
//! template is compared with DescribeTable of a table created on DynamoDB Local.
//! Its functions are the binaries `cargo xtask package` builds, its
//! WebSocket API is guarded as docs/deploy.md says, and its stream function's
//! filters let through every record the handler uses and nothing else.

use serde_norway::Value;

fn template() -> Value {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/../deploy/template.yaml");
    serde_norway::from_str(&std::fs::read_to_string(path).unwrap()).unwrap()
}

fn pairs(list: &Value, a: &str, b: &str) -> Vec<(String, String)> {
    let mut out: Vec<(String, String)> = list
        .as_sequence()
        .unwrap()
        .iter()
        .map(|v| {
            (
                v[a].as_str().unwrap().to_owned(),
                v[b].as_str().unwrap().to_owned(),
            )
        })
        .collect();
    out.sort();
    out
}

#[tokio::test]
async fn the_template_table_is_the_schema_load_table() {
    let template = template();
    let table = &template["Resources"]["Table"]["Properties"];
    let repo = dm_store::testing::fresh_table().await;
    let described = dm_store::schema::describe_table(repo.client(), repo.table())
        .await
        .unwrap()
        .unwrap();

    let keys = |schema: &[aws_sdk_dynamodb::types::KeySchemaElement]| {
        let mut out: Vec<(String, String)> = schema
            .iter()
            .map(|k| {
                (
                    k.attribute_name().to_owned(),
                    k.key_type().as_str().to_owned(),
                )
            })
            .collect();
        out.sort();
        out
    };
    assert_eq!(
        pairs(&table["KeySchema"], "AttributeName", "KeyType"),
        keys(described.key_schema())
    );
    let mut attributes: Vec<(String, String)> = described
        .attribute_definitions()
        .iter()
        .map(|a| {
            (
                a.attribute_name().to_owned(),
                a.attribute_type().as_str().to_owned(),
            )
        })
        .collect();
    attributes.sort();
    assert_eq!(
        pairs(
            &table["AttributeDefinitions"],
            "AttributeName",
            "AttributeType"
        ),
        attributes
    );

    let template_indexes = table["GlobalSecondaryIndexes"].as_sequence().unwrap();
    assert_eq!(
        template_indexes.len(),
        described.global_secondary_indexes().len()
    );
    for index in described.global_secondary_indexes() {
        let t = template_indexes
            .iter()
            .find(|t| t["IndexName"].as_str() == index.index_name())
            .unwrap_or_else(|| panic!("{:?} is in the template", index.index_name()));
        assert_eq!(
            pairs(&t["KeySchema"], "AttributeName", "KeyType"),
            keys(index.key_schema())
        );
        assert_eq!(
            t["Projection"]["ProjectionType"].as_str(),
            index
                .projection()
                .and_then(|p| p.projection_type())
                .map(|p| p.as_str())
        );
        let index_throughput = index.provisioned_throughput().unwrap();
        assert_eq!(
            t["ProvisionedThroughput"]["ReadCapacityUnits"].as_i64(),
            index_throughput.read_capacity_units()
        );
        assert_eq!(
            t["ProvisionedThroughput"]["WriteCapacityUnits"].as_i64(),
            index_throughput.write_capacity_units()
        );
    }

    let throughput = described.provisioned_throughput().unwrap();
    assert_eq!(table["BillingMode"].as_str(), Some("PROVISIONED"));
    assert_eq!(
        table["ProvisionedThroughput"]["ReadCapacityUnits"].as_i64(),
        throughput.read_capacity_units()
    );
    assert_eq!(
        table["ProvisionedThroughput"]["WriteCapacityUnits"].as_i64(),
        throughput.write_capacity_units()
    );

    let stream = described.stream_specification().unwrap();
    assert_eq!(
        table["StreamSpecification"]["StreamViewType"].as_str(),
        stream.stream_view_type().map(|s| s.as_str())
    );
    assert_eq!(
        table["TimeToLiveSpecification"]["AttributeName"].as_str(),
        Some(dm_store::schema::TTL_ATTRIBUTE)
    );
    assert_eq!(
        table["TimeToLiveSpecification"]["Enabled"].as_bool(),
        Some(true)
    );
    assert_eq!(
        table["PointInTimeRecoverySpecification"]["PointInTimeRecoveryEnabled"].as_bool(),
        Some(true)
    );

    // Nothing hard-codes the table name: functions get it from the template.
    let functions = [
        "StreamHandler",
        "ApiFunction",
        "UsersTrigger",
        "LiveAuthorizerFunction",
        "LiveConnectionsFunction",
    ];
    let globals = &template["Globals"]["Function"]["Environment"]["Variables"]["DM_TABLE"];
    assert!(
        matches!(globals, Value::Tagged(_)),
        "DM_TABLE is a !Ref, not a literal: {globals:?}"
    );
    for f in functions {
        let code = template["Resources"][f]["Properties"]["CodeUri"]
            .as_str()
            .unwrap();
        assert!(code.ends_with("/bootstrap.zip"), "{f}: {code}");
    }
}

/// The text of a `!Sub`, or of a plain string.
fn text(value: &Value) -> String {
    match value {
        Value::Tagged(tagged) => tagged.value.as_str().unwrap_or_default().to_owned(),
        other => other.as_str().unwrap_or_default().to_owned(),
    }
}

#[test]
fn every_function_is_a_packaged_binary() {
    let template = template();
    let root = concat!(env!("CARGO_MANIFEST_DIR"), "/..");
    let package = std::fs::read_to_string(format!("{root}/xtask/src/package.rs")).unwrap();
    let mut binaries = Vec::new();
    for (name, resource) in template["Resources"].as_mapping().unwrap() {
        if resource["Type"].as_str() != Some("AWS::Serverless::Function") {
            continue;
        }
        let code = resource["Properties"]["CodeUri"].as_str().unwrap();
        let binary = code
            .strip_prefix("../target/lambda/")
            .and_then(|rest| rest.strip_suffix("/bootstrap.zip"))
            .unwrap_or_else(|| panic!("{name:?}: {code}"));
        assert!(
            std::path::Path::new(&format!("{root}/crates/dm-bin/src/bin/{binary}.rs")).exists(),
            "{name:?} runs {binary}, which is no binary of dm-bin"
        );
        assert!(
            package.contains(&format!("\"{binary}\"")),
            "cargo xtask package does not build {binary}"
        );
        binaries.push(binary.to_owned());
    }
    binaries.sort();
    assert_eq!(
        binaries,
        [
            "dm-api-lambda",
            "dm-stream-lambda",
            "dm-users-lambda",
            "dm-ws-authorizer",
            "dm-ws-connections"
        ]
    );
}

#[test]
fn the_websocket_api_checks_tokens_and_only_the_stream_posts() {
    let template = template();
    let resources = &template["Resources"];
    assert_eq!(
        resources["LiveApi"]["Properties"]["ProtocolType"],
        "WEBSOCKET"
    );
    let connect = &resources["LiveConnectRoute"]["Properties"];
    assert_eq!(connect["RouteKey"], "$connect");
    assert_eq!(connect["AuthorizationType"], "CUSTOM");
    let authorizer = &resources["LiveAuthorizer"]["Properties"];
    assert_eq!(authorizer["AuthorizerType"], "REQUEST");
    assert_eq!(
        authorizer["IdentitySource"][0],
        "route.request.querystring.token"
    );
    assert!(text(&authorizer["AuthorizerUri"]).contains("${LiveAuthorizerFunction.Arn}"));
    assert_eq!(
        resources["LiveDisconnectRoute"]["Properties"]["RouteKey"],
        "$disconnect"
    );

    // execute-api:ManageConnections: the stream handler's alone, to post and
    // close on this API's stage.
    let mut granted = Vec::new();
    for (name, resource) in resources.as_mapping().unwrap() {
        let Some(policies) = resource["Properties"]["Policies"].as_sequence() else {
            continue;
        };
        for statement in policies
            .iter()
            .flat_map(|p| p["Statement"].as_sequence().unwrap())
        {
            let actions = match &statement["Action"] {
                Value::Sequence(list) => list.iter().map(|a| a.as_str().unwrap()).collect(),
                one => vec![one.as_str().unwrap()],
            };
            if actions.iter().any(|a| a.starts_with("execute-api:")) {
                for resource in statement["Resource"].as_sequence().unwrap() {
                    granted.push((name.as_str().unwrap().to_owned(), text(resource)));
                }
            }
        }
    }
    let stage = "arn:${AWS::Partition}:execute-api:${AWS::Region}:${AWS::AccountId}:${LiveApi}/${LiveStage}";
    assert_eq!(
        granted,
        [
            (
                "StreamHandler".to_owned(),
                format!("{stage}/POST/@connections/*")
            ),
            (
                "StreamHandler".to_owned(),
                format!("{stage}/DELETE/@connections/*")
            ),
        ]
    );
    let endpoint = text(
        &resources["StreamHandler"]["Properties"]["Environment"]["Variables"]["DM_WS_ENDPOINT"],
    );
    assert_eq!(
        endpoint,
        "https://${LiveApi}.execute-api.${AWS::Region}.amazonaws.com/${LiveStage}"
    );
}

/// Every route of the OpenAPI document (but the WebSocket, which API Gateway
/// serves as its own API) is an event of the template's HTTP API, and the
/// template's CORS allows its method.
#[test]
fn every_http_route_is_in_the_template() {
    use utoipa::OpenApi as _;
    let t = template();
    let api = &t["Resources"]["ApiFunction"]["Properties"]["Events"];
    let events: Vec<(String, String)> = api
        .as_mapping()
        .unwrap()
        .values()
        .map(|e| {
            let p = &e["Properties"];
            (text(&p["Method"]).to_uppercase(), text(&p["Path"]))
        })
        .collect();
    let cors = &t["Resources"]["Api"]["Properties"]["CorsConfiguration"]["AllowMethods"];
    let allowed: Vec<String> = cors.as_sequence().unwrap().iter().map(text).collect();
    let doc = serde_json::to_value(dm_api::routes::ApiDoc::openapi()).unwrap();
    for (path, item) in doc["paths"].as_object().unwrap() {
        if path == "/api/ws" {
            continue;
        }
        for method in item.as_object().unwrap().keys() {
            let method = method.to_uppercase();
            assert!(
                events.contains(&(method.clone(), path.clone())),
                "{method} {path} is not routed by the template"
            );
            assert!(allowed.contains(&method), "CORS refuses {method}");
        }
    }
}

/// Deployed over an existing table (`ExistingTableName`), the stack creates
/// no table: every use of the table's name, ARN, index or stream goes
/// through the `CreateTable` condition, and a rule demands the stream's ARN.
#[test]
fn the_stack_can_deploy_over_an_existing_table() {
    let template = template();
    assert_eq!(
        template["Resources"]["Table"]["Condition"].as_str(),
        Some("CreateTable")
    );
    for parameter in ["ExistingTableName", "ExistingTableStreamArn"] {
        assert_eq!(
            template["Parameters"][parameter]["Default"].as_str(),
            Some(""),
            "{parameter}"
        );
    }
    assert!(
        !template["Rules"]["ExistingTableNeedsItsStream"]["Assertions"].is_null(),
        "a rule demands the stream's ARN"
    );
    let text = std::fs::read_to_string(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../deploy/template.yaml"
    ))
    .unwrap();
    let uses: Vec<&str> = text
        .lines()
        .filter(|line| {
            line.contains("Table.Arn")
                || line.contains("Table.StreamArn")
                || line.trim_end().ends_with("!Ref Table")
        })
        .collect();
    assert!(uses.len() >= 10, "{uses:?}");
    for line in uses {
        assert!(
            line.contains("!If [CreateTable, "),
            "the table used without its condition: {line}"
        );
    }
}

/// The stream function's filter patterns (its DynamoDB event's
/// `FilterCriteria`), as JSON.
fn stream_filters() -> Vec<serde_json::Value> {
    let events = &template()["Resources"]["StreamHandler"]["Properties"]["Events"];
    let mapping = events
        .as_mapping()
        .unwrap()
        .values()
        .find(|e| e["Type"].as_str() == Some("DynamoDB"))
        .expect("a DynamoDB event");
    mapping["Properties"]["FilterCriteria"]["Filters"]
        .as_sequence()
        .unwrap()
        .iter()
        .map(|f| serde_json::from_str(f["Pattern"].as_str().unwrap()).unwrap())
        .collect()
}

/// Whether `event` matches `pattern` as Lambda's event filtering decides it,
/// for what the template uses: each field of the pattern must match; a list
/// matches when any of its values is equal, or any of its `prefix` or
/// `exists` operators holds.
fn matches(pattern: &serde_json::Value, event: &serde_json::Value) -> bool {
    use serde_json::Value as Json;
    pattern.as_object().unwrap().iter().all(|(field, want)| {
        let got = event.get(field);
        match want {
            Json::Object(_) => got.is_some_and(|g| matches(want, g)),
            Json::Array(options) => options.iter().any(|option| match option {
                Json::Object(op) if op.contains_key("prefix") => got
                    .and_then(Json::as_str)
                    .is_some_and(|g| g.starts_with(op["prefix"].as_str().unwrap())),
                Json::Object(op) if op.contains_key("exists") => {
                    got.is_some() == op["exists"].as_bool().unwrap()
                }
                Json::Object(op) => panic!("an operator this test does not know: {op:?}"),
                value => got == Some(value),
            }),
            other => panic!("a pattern field is an object or a list, not {other}"),
        }
    })
}

/// Every change the project's writes make (the memory repository's feed,
/// whose records are the items DynamoDB's stream carries), as Lambda
/// delivers them, against the stream function's filters: every record the
/// handler acts on passes (messages sent, edited, deleted or removed; read
/// markers; named groups made and changed), and nothing else reaches it
/// (rows, users, claims, pairs, one-to-one conversations' items,
/// connections, idempotency claims).
#[tokio::test]
async fn the_stream_filters_pass_what_the_handler_uses_and_nothing_else() {
    use dm_domain::{
        Connection, DisplayName, GroupName, Handle, IdempotencyClaim, MessageText, NewUser, UserId,
    };
    use dm_store::{
        ChangeKind, GroupChange, MemoryRepository, MessageLookup, NewMessage, Record, Repository,
    };
    let repo = MemoryRepository::new();
    let mut users = Vec::new();
    for handle in ["ana", "bo", "cy", "di"] {
        let user = repo
            .create_user(NewUser {
                uuid: UserId::new(),
                handle: Handle::parse(handle).unwrap(),
                display_name: DisplayName::parse(handle).unwrap(),
                cognito_user_id: Some(format!("sub-{handle}")),
            })
            .await
            .unwrap();
        users.push(user.summary());
    }
    let text = |s: &str| MessageText::parse(s).unwrap();
    let started = repo
        .start_conversation(&users[0], &users[1], NewMessage::now(text("hi")))
        .await
        .unwrap();
    let pair = started.message.group;
    repo.apply_message(&started.message).await.unwrap();
    let sent = repo
        .send_message(pair, &users[1], NewMessage::now(text("hello")))
        .await
        .unwrap();
    repo.apply_message(&sent).await.unwrap();
    repo.mark_read(pair, users[0].uuid, sent.reference())
        .await
        .unwrap();
    let lookup = MessageLookup {
        id: sent.id,
        sent_at: Some(sent.created_at),
    };
    let now = dm_domain::Timestamp::now();
    repo.edit_message(pair, users[1].uuid, lookup, text("hello!"), now)
        .await
        .unwrap();
    repo.delete_message(pair, users[1].uuid, lookup)
        .await
        .unwrap();
    let group = repo
        .create_group(
            &users[0],
            GroupName::parse("crew").unwrap(),
            vec![users[1].clone(), users[2].clone()],
        )
        .await
        .unwrap();
    let made = dm_store::Changes {
        group: Some(group.clone()),
        ..dm_store::Changes::default()
    };
    repo.apply_changes(group.id, &made).await.unwrap();
    let owner = users[0].uuid;
    let changes = [
        GroupChange::Rename(GroupName::parse("night crew").unwrap()),
        GroupChange::Add(vec![users[3].clone()]),
        GroupChange::Remove(users[2].uuid),
    ];
    for change in &changes {
        repo.change_group(group.id, owner, change).await.unwrap();
    }
    let connection = Connection {
        user: owner,
        id: "conn-1".into(),
        expires_at: dm_domain::Timestamp::unix_now() + 600,
    };
    repo.add_connection(&connection).await.unwrap();
    repo.remove_connection(owner, "conn-1").await.unwrap();
    repo.claim_idempotency(
        IdempotencyClaim {
            user: owner,
            key: "key-1".into(),
            message: dm_domain::MessageId::new(),
            at: dm_domain::Timestamp::now(),
            request: "a digest of the request".into(),
            expires_at: dm_domain::Timestamp::unix_now() + 600,
        },
        dm_domain::Timestamp::unix_now(),
    )
    .await
    .unwrap();

    let filters = stream_filters();
    let events = repo.changes_after(0, usize::MAX).unwrap();
    let mut passed = std::collections::BTreeSet::new();
    for event in &events {
        let mut dynamodb = serde_json::json!({
            "Keys": {"pk": {"S": event.key.pk()}, "sk": {"S": event.key.sk()}},
        });
        if let Some(record) = &event.new_image {
            dynamodb["NewImage"] = serde_json::to_value(record.to_item()).unwrap();
        }
        let name = match event.kind {
            ChangeKind::Insert => "INSERT",
            ChangeKind::Modify => "MODIFY",
            ChangeKind::Remove => "REMOVE",
        };
        let lambda = serde_json::json!({"eventName": name, "dynamodb": dynamodb});
        let used = match (&event.new_image, &event.key) {
            (Some(Record::Message(_) | Record::ReadMarker(_)), _) => true,
            (Some(Record::Group(g)), _) => g.owner().is_some(),
            (None, dm_domain::ItemKey::Message { .. }) => true,
            _ => false,
        };
        let passes = filters.iter().any(|f| matches(f, &lambda));
        assert_eq!(passes, used, "{lambda:#}");
        if passes {
            passed.insert(format!(
                "{name} {}",
                event.key.pk().split('#').next().unwrap()
            ));
        }
    }
    // Every kind the handler uses was among the records, and passed.
    let expected = [
        "INSERT GROUP",
        "MODIFY GROUP",
        "INSERT MSG",
        "MODIFY MSG",
        "INSERT READ",
    ];
    assert_eq!(
        passed.iter().map(String::as_str).collect::<Vec<_>>(),
        {
            let mut e = expected.to_vec();
            e.sort_unstable();
            e
        },
        "{events:#?}"
    );
}
