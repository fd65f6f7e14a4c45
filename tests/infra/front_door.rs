//! The CloudFront front door against the code: the paths `vetted serve` uses go to the same
//! things on AWS (the pages from the site bucket, `/api/*` and `/auth/*` to the HTTP API,
//! `/media/*` to `published/`), nobody but the distribution reads the site or published
//! images, the pages' CSP admits the bucket endpoints the presigner sends browsers to, and
//! the user pool lets the account routes do what they do.

use serde_json::{Value, json};
use vetted_api::auth::Role;
use vetted_core::ObjectKey;
use vetted_core::presign::{BucketEndpoint, S3Target};

use crate::template::{Template, get_att, one_or_many, ref_target};

const DISTRIBUTION: &str = "FrontDoorDistribution";
/// Managed cache and origin request policies, by id.
const CACHING_OPTIMIZED: &str = "658327ea-f89d-4fab-a63d-7e88639e58f6";
const CACHING_DISABLED: &str = "4135ea2d-6df8-44a3-9df3-4b5a84be39ad";
const ALL_VIEWER_EXCEPT_HOST: &str = "b689b0a8-53d0-40ab-baf2-68738e2966ac";

fn config(template: &Template) -> &Value {
    let distributions = template.resources_of_type("AWS::CloudFront::Distribution");
    assert_eq!(
        distributions.iter().map(|(id, _)| *id).collect::<Vec<_>>(),
        [DISTRIBUTION],
        "one front door"
    );
    assert!(
        distributions[0].1.get("Condition").is_none(),
        "the front door is always there: the pages and the API are reached through it"
    );
    &distributions[0].1["Properties"]["DistributionConfig"]
}

/// The behaviour for `pattern` (`None`: the default one).
fn behaviour<'a>(config: &'a Value, pattern: Option<&str>) -> &'a Value {
    match pattern {
        None => &config["DefaultCacheBehavior"],
        Some(p) => config["CacheBehaviors"]
            .as_array()
            .and_then(|all| all.iter().find(|b| b["PathPattern"] == p))
            .unwrap_or_else(|| panic!("the front door has no behaviour for {p}")),
    }
}

fn origin<'a>(config: &'a Value, behaviour: &Value) -> &'a Value {
    let id = &behaviour["TargetOriginId"];
    config["Origins"]
        .as_array()
        .and_then(|all| all.iter().find(|o| o["Id"] == *id))
        .unwrap_or_else(|| panic!("no origin {id}"))
}

/// The upload bucket's name as the template spells it (an `!If` on BucketName).
fn upload_bucket_name(template: &Template) -> Value {
    template.resource("UploadBucket").expect("UploadBucket")["Properties"]["BucketName"].clone()
}

fn front_door_arn() -> Value {
    json!({"Fn::Sub": "arn:${AWS::Partition}:cloudfront::${AWS::AccountId}:distribution/${FrontDoorDistribution}"})
}

#[test]
fn the_paths_of_vetted_serve_reach_the_same_things_through_the_front_door() {
    let template = Template::load();
    let config = config(&template);
    let mut problems = Vec::new();
    let mut check = |ok: bool, what: String| {
        if !ok {
            problems.push(what);
        }
    };

    // The pages: the site bucket through OAC, / being the object the site Lambda puts for it.
    let pages = behaviour(config, None);
    let site = origin(config, pages);
    check(
        get_att(&site["DomainName"]) == Some(("SiteBucket", "RegionalDomainName")),
        format!(
            "the default behaviour must serve the site bucket, not {}",
            site["DomainName"]
        ),
    );
    check(
        config["DefaultRootObject"] == site::objects::ROOT_OBJECT,
        format!(
            "DefaultRootObject must be {:?}, the key the site Lambda puts / under",
            site::objects::ROOT_OBJECT
        ),
    );
    for file in vetted_web::files() {
        let key = site::objects::key_for(file.path);
        check(
            file.path == "/" || format!("/{key}") == file.path,
            format!(
                "{} is served at {} but stored as {key}",
                file.name, file.path
            ),
        );
    }

    // The API, for the routes under /api/ and the account routes under /auth/.
    for pattern in ["/api/*", "/auth/*"] {
        let b = behaviour(config, Some(pattern));
        let api = origin(config, b);
        check(
            api["DomainName"]
                == json!({"Fn::Sub": "${HttpApi}.execute-api.${AWS::Region}.${AWS::URLSuffix}"}),
            format!(
                "{pattern} must go to the HTTP API, not {}",
                api["DomainName"]
            ),
        );
        check(
            api["CustomOriginConfig"]["OriginProtocolPolicy"] == "https-only",
            format!("{pattern}: the API is reached over HTTPS only"),
        );
        check(
            b["CachePolicyId"] == CACHING_DISABLED,
            format!("{pattern} must not be cached (managed CachingDisabled)"),
        );
        check(
            b["OriginRequestPolicyId"] == ALL_VIEWER_EXCEPT_HOST,
            format!("{pattern} must pass every viewer header but Host (AllViewerExceptHostHeader)"),
        );
        let methods = one_or_many(b.get("AllowedMethods"));
        check(
            ["GET", "POST", "PUT", "DELETE", "PATCH", "OPTIONS", "HEAD"]
                .iter()
                .all(|m| methods.iter().any(|have| have == m)),
            format!("{pattern} must allow every method, not {methods:?}"),
        );
    }

    // Published images: the uploads bucket through OAC, /media/{rest} read as published/{rest}.
    let media = behaviour(config, Some("/media/*"));
    let uploads = origin(config, media);
    check(
        uploads["DomainName"]
            == json!({"Fn::Sub": ["${Name}.s3.${AWS::Region}.${AWS::URLSuffix}", {"Name": upload_bucket_name(&template)}]}),
        format!(
            "/media/* must read the uploads bucket, not {}",
            uploads["DomainName"]
        ),
    );
    check(
        media["CachePolicyId"] == CACHING_OPTIMIZED,
        "/media/* is cached: a published image never changes".to_owned(),
    );
    let associations = one_or_many(media.get("FunctionAssociations"));
    check(
        associations.len() == 1
            && associations[0]["EventType"] == "viewer-request"
            && get_att(&associations[0]["FunctionARN"])
                == Some(("MediaPathFunction", "FunctionMetadata.FunctionARN")),
        format!("/media/* must run MediaPathFunction on viewer requests: {associations:?}"),
    );
    let code = template
        .resource("MediaPathFunction")
        .expect("MediaPathFunction")["Properties"]["FunctionCode"]
        .as_str()
        .unwrap_or_default()
        .to_owned();
    check(
        code.contains(&format!("'/{}'", ObjectKey::PUBLISHED_PREFIX))
            && code.contains("substring('/media/'.length)"),
        format!("MediaPathFunction must turn /media/{{rest}} into /published/{{rest}}:\n{code}"),
    );
    for (i, o) in config["Origins"]
        .as_array()
        .into_iter()
        .flatten()
        .enumerate()
    {
        if o.get("S3OriginConfig").is_some() {
            check(
                get_att(&o["OriginAccessControlId"])
                    == Some(("FrontDoorOriginAccessControl", "Id")),
                format!("S3 origin {i} ({}) must be read through the OAC", o["Id"]),
            );
        }
    }

    // Every behaviour answers with the security headers.
    let all: Vec<&Value> = std::iter::once(pages)
        .chain(config["CacheBehaviors"].as_array().into_iter().flatten())
        .collect();
    for b in all {
        check(
            ref_target(&b["ResponseHeadersPolicyId"]) == Some("FrontDoorSecurityHeaders"),
            format!(
                "behaviour {} lacks FrontDoorSecurityHeaders",
                b["PathPattern"]
            ),
        );
        check(
            matches!(
                b["ViewerProtocolPolicy"].as_str(),
                Some("https-only" | "redirect-to-https")
            ),
            format!("behaviour {} allows plain HTTP", b["PathPattern"]),
        );
    }
    assert!(
        problems.is_empty(),
        "the front door:\n- {}",
        problems.join("\n- ")
    );
}

#[test]
fn the_http_api_guards_api_with_the_authorizer_and_leaves_auth_open() {
    let template = Template::load();
    let routes: Vec<(String, &Value)> = template
        .resources_of_type("AWS::ApiGatewayV2::Route")
        .into_iter()
        .map(|(_, r)| {
            (
                r["Properties"]["RouteKey"]
                    .as_str()
                    .unwrap_or_default()
                    .to_owned(),
                &r["Properties"],
            )
        })
        .collect();
    let keys: Vec<&str> = routes.iter().map(|(k, _)| k.as_str()).collect();
    assert_eq!(
        keys,
        ["ANY /api/{proxy+}", "POST /auth/{proxy+}"],
        "the routes"
    );
    for (key, route) in &routes {
        assert_eq!(
            route["Target"],
            json!({"Fn::Sub": "integrations/${UploadApiIntegration}"}),
            "{key}"
        );
        let (kind, authorizer) = if key.contains("/api/") {
            ("JWT", Some("HttpApiJwtAuthorizer"))
        } else {
            ("NONE", None)
        };
        assert_eq!(route["AuthorizationType"], kind, "{key}");
        assert_eq!(
            route.get("AuthorizerId").and_then(ref_target),
            authorizer,
            "{key}"
        );
    }
    let integration = &template
        .resource("UploadApiIntegration")
        .expect("integration")["Properties"];
    assert_eq!(
        get_att(&integration["IntegrationUri"]),
        Some(("UploadApiFunction", "Arn"))
    );
    assert_eq!(integration["PayloadFormatVersion"], "2.0");

    // Images the API names are served by the front door's /media/.
    let env = &template.resource("UploadApiFunction").expect("upload API")["Properties"]["Environment"]
        ["Variables"];
    let media = env["VETTED_MEDIA_BASE_URL"].to_string();
    assert!(
        media.contains("https://${CdnDomainName}/media")
            && media.contains("https://${FrontDoorDistribution.DomainName}/media"),
        "VETTED_MEDIA_BASE_URL must be /media on the front door: {media}"
    );
    assert_eq!(
        ref_target(&env["VETTED_COGNITO_USER_POOL_ID"]),
        Some("UserPool")
    );
    assert_eq!(
        ref_target(&env["VETTED_COGNITO_CLIENT_ID"]),
        Some("UserPoolClient")
    );
}

#[test]
fn only_the_front_door_reads_the_site_and_only_published_images_of_the_uploads() {
    let template = Template::load();
    let statements = |policy: &str| -> Vec<Value> {
        template
            .resource(policy)
            .unwrap_or_else(|| panic!("no {policy}"))["Properties"]["PolicyDocument"]["Statement"]
            .as_array()
            .cloned()
            .unwrap_or_default()
    };
    let cloudfront = json!({"Service": "cloudfront.amazonaws.com"});
    let from_front_door = json!({"aws:SourceArn": front_door_arn()});
    for (policy, bucket, readable) in [
        (
            "SiteBucketPolicy",
            "SiteBucket",
            "${SiteBucket.Arn}/*".to_owned(),
        ),
        (
            "UploadBucketPolicy",
            "UploadBucket",
            format!("${{UploadBucket.Arn}}/{}*", ObjectKey::PUBLISHED_PREFIX),
        ),
    ] {
        let all = statements(policy);
        let allows: Vec<&Value> = all.iter().filter(|s| s["Effect"] == "Allow").collect();
        assert_eq!(allows.len(), 1, "{policy} allows one thing: {allows:?}");
        let allow = allows[0];
        assert_eq!(allow["Principal"], cloudfront, "{policy}");
        assert_eq!(allow["Action"], "s3:GetObject", "{policy}");
        assert_eq!(allow["Resource"], json!({"Fn::Sub": readable}), "{policy}");
        assert_eq!(
            allow["Condition"]["StringEquals"], from_front_door,
            "{policy}"
        );

        let insecure = all
            .iter()
            .find(|s| s["Condition"]["Bool"]["aws:SecureTransport"] == "false")
            .unwrap_or_else(|| panic!("{policy} does not deny plain HTTP"));
        assert_eq!(insecure["Effect"], "Deny");
        assert_eq!(insecure["Principal"], "*");
        assert_eq!(insecure["Action"], "s3:*");
        assert_eq!(
            one_or_many(insecure.get("Resource")),
            [
                json!({"Fn::GetAtt": [bucket, "Arn"]}),
                json!({"Fn::Sub": format!("${{{bucket}.Arn}}/*")})
            ],
            "{policy} must deny plain HTTP on the bucket and its objects"
        );
    }
    // Even a role of this account with s3:GetObject reads the site only through the front door.
    let site = statements("SiteBucketPolicy");
    let deny_reads = site
        .iter()
        .find(|s| s["Effect"] == "Deny" && s["Action"] == "s3:GetObject")
        .expect("SiteBucketPolicy denies reads that do not come from the front door");
    assert_eq!(deny_reads["Principal"], "*");
    assert_eq!(deny_reads["Condition"]["StringNotEquals"], from_front_door);

    let bucket = &template.resource("SiteBucket").expect("SiteBucket")["Properties"];
    assert_eq!(
        bucket["PublicAccessBlockConfiguration"],
        json!({"BlockPublicAcls": true, "BlockPublicPolicy": true, "IgnorePublicAcls": true, "RestrictPublicBuckets": true})
    );
    assert_eq!(
        bucket["OwnershipControls"]["Rules"][0]["ObjectOwnership"],
        "BucketOwnerEnforced"
    );

    // The pages upload from the front door's origin, so the bucket's CORS rule allows it.
    let origins =
        template.resource("UploadBucket").expect("UploadBucket")["Properties"]["CorsConfiguration"]
            ["CorsRules"][0]["AllowedOrigins"]
            .to_string();
    assert!(
        origins.contains("https://${FrontDoorDistribution.DomainName}")
            && origins.contains("https://${CdnDomainName}"),
        "the uploads bucket's CORS rule must allow the front door's origin: {origins}"
    );
}

/// `${Name}`-style placeholders filled in, for a `!Sub` of the template.
fn fill(text: &str, values: &[(&str, &str)]) -> String {
    values.iter().fold(text.to_owned(), |t, (k, v)| {
        t.replace(&format!("${{{k}}}"), v)
    })
}

#[test]
fn the_csp_admits_the_bucket_endpoints_the_presigner_sends_browsers_to() {
    let template = Template::load();
    let csp = &template
        .resource("FrontDoorSecurityHeaders")
        .expect("headers policy")["Properties"]["ResponseHeadersPolicyConfig"]["SecurityHeadersConfig"];
    let sub = csp["ContentSecurityPolicy"]["ContentSecurityPolicy"]["Fn::Sub"]
        .as_array()
        .expect("the CSP is a !Sub with its endpoints");
    let (bucket, region) = ("vetted-123456789012-eu-west-1", "eu-west-1");
    let pseudo = [
        ("Name", bucket),
        ("AWS::Region", region),
        ("AWS::URLSuffix", "amazonaws.com"),
    ];
    let endpoint = |name: &str| -> String {
        let inner = &sub[1][name]["Fn::Sub"];
        assert_eq!(
            inner[1]["Name"],
            upload_bucket_name(&template),
            "{name} names the uploads bucket"
        );
        fill(inner[0].as_str().unwrap_or_default(), &pseudo)
    };
    let policy = fill(
        sub[0].as_str().unwrap_or_default(),
        &[
            ("Regional", &endpoint("Regional")),
            ("Accelerate", &endpoint("Accelerate")),
        ],
    );
    let directive = |name: &str| -> Vec<String> {
        policy
            .split(';')
            .map(str::trim)
            .find_map(|d| d.strip_prefix(&format!("{name} ")))
            .unwrap_or_else(|| panic!("the CSP has no {name}: {policy}"))
            .split_whitespace()
            .map(str::to_owned)
            .collect()
    };
    assert_eq!(directive("script-src"), ["'self'"]);
    assert_eq!(directive("frame-ancestors"), ["'none'"]);
    assert_eq!(directive("default-src"), ["'none'"]);
    for accelerate in [false, true] {
        let target = S3Target::new(
            bucket,
            region,
            BucketEndpoint::choose(accelerate, None).unwrap(),
        )
        .unwrap();
        let origin = target.post_url().trim_end_matches('/').to_owned();
        for name in ["connect-src", "img-src"] {
            assert!(
                directive(name).contains(&origin),
                "{name} must admit {origin}, where the pages upload or read previews: {policy}"
            );
        }
    }
    let headers = csp;
    assert_eq!(headers["FrameOptions"]["FrameOption"], "DENY");
    assert_eq!(headers["ContentTypeOptions"]["Override"], true);
    assert!(
        headers["StrictTransportSecurity"]["AccessControlMaxAgeSec"].as_u64() >= Some(31_536_000)
    );
    assert_eq!(headers["ReferrerPolicy"]["ReferrerPolicy"], "no-referrer");
}

#[test]
fn the_user_pool_lets_the_account_routes_do_what_they_do() {
    let template = Template::load();
    let client = &template.resource("UserPoolClient").expect("UserPoolClient")["Properties"];
    assert_eq!(
        client["ExplicitAuthFlows"],
        json!(["ALLOW_USER_PASSWORD_AUTH", "ALLOW_REFRESH_TOKEN_AUTH"]),
        "the flows the account routes use, and no other"
    );
    assert_eq!(client["PreventUserExistenceErrors"], "ENABLED");
    assert_eq!(client["GenerateSecret"], false);

    let mut groups: Vec<String> = template
        .resources_of_type("AWS::Cognito::UserPoolGroup")
        .into_iter()
        .map(|(_, g)| {
            g["Properties"]["GroupName"]
                .as_str()
                .unwrap_or_default()
                .to_owned()
        })
        .collect();
    groups.sort();
    let mut roles: Vec<String> = [Role::Owner, Role::Moderator, Role::Admin]
        .iter()
        .map(|r| r.group().to_owned())
        .collect();
    roles.sort();
    assert_eq!(groups, roles, "one group per role the API knows");

    let pool = &template.resource("UserPool").expect("UserPool")["Properties"];
    assert_eq!(
        pool["AdminCreateUserConfig"]["AllowAdminCreateUserOnly"],
        json!({"Fn::If": ["SelfSignUp", false, true]})
    );
    assert_eq!(template.parameter("AllowSelfSignUp")["Default"], "true");
    assert_eq!(
        pool["AutoVerifiedAttributes"],
        json!(["email"]),
        "sign-up emails a code"
    );

    let mut actions: Vec<Value> = Vec::new();
    for action in [
        "cognito-idp:AdminGetUser",
        "cognito-idp:AdminAddUserToGroup",
        "cognito-idp:AdminUserGlobalSignOut",
    ] {
        let on = template.allowed_resources("UploadApiRole", action);
        assert_eq!(
            on,
            [json!({"Fn::GetAtt": ["UserPool", "Arn"]})],
            "{action} on the pool only"
        );
        actions.push(json!(action));
    }
    let every_cognito: Vec<Value> = template
        .role_statements("UploadApiRole")
        .into_iter()
        .flat_map(|s| one_or_many(s.get("Action")))
        .filter(|a| a.as_str().is_some_and(|a| a.starts_with("cognito-idp:")))
        .collect();
    assert_eq!(every_cognito, actions, "no other Cognito action");
}

#[test]
fn the_user_pool_and_the_api_refuse_the_same_passwords() {
    let template = Template::load();
    let pool = &template.resource("UserPool").expect("UserPool")["Properties"];
    let policy = &pool["Policies"]["PasswordPolicy"];
    let ours = vetted_core::accounts::PasswordPolicy::USER_POOL;
    assert_eq!(policy["MinimumLength"], json!(ours.min_length));
    assert_eq!(policy["RequireLowercase"], json!(ours.require_lowercase));
    assert_eq!(policy["RequireUppercase"], json!(ours.require_uppercase));
    assert_eq!(policy["RequireNumbers"], json!(ours.require_digit));
    assert_eq!(
        policy["RequireSymbols"],
        json!(false),
        "the API's policy asks for no symbol"
    );
    assert_eq!(
        pool["UsernameAttributes"],
        json!(["email"]),
        "accounts sign in by address, as CognitoAccounts names them"
    );
}

#[test]
fn the_optional_web_acl_limits_accounts_and_uploads_and_lives_in_us_east_1() {
    let template = Template::load();
    let acl = template
        .resource("FrontDoorWebAcl")
        .expect("FrontDoorWebAcl");
    assert_eq!(acl["Condition"], "CreateWebAcl");
    let props = &acl["Properties"];
    assert_eq!(props["Scope"], "CLOUDFRONT");
    let rate = props["Rules"]
        .as_array()
        .and_then(|rules| {
            rules
                .iter()
                .find_map(|r| r["Statement"].get("RateBasedStatement"))
        })
        .expect("a rate-based rule");
    assert_eq!(ref_target(&rate["Limit"]), Some("WafRateLimit"));
    let mut prefixes: Vec<&str> = rate["ScopeDownStatement"]["OrStatement"]["Statements"]
        .as_array()
        .into_iter()
        .flatten()
        .map(|s| &s["ByteMatchStatement"])
        .inspect(|m| assert_eq!(m["PositionalConstraint"], "STARTS_WITH"))
        .map(|m| m["SearchString"].as_str().unwrap_or_default())
        .collect();
    prefixes.sort();
    assert_eq!(prefixes, ["/api/uploads", "/auth/"]);

    let web_acl = &config(&template)["WebACLId"]["Fn::If"];
    assert_eq!(web_acl[0], "CreateWebAcl");
    assert_eq!(get_att(&web_acl[1]), Some(("FrontDoorWebAcl", "Arn")));

    let rules = template.section("Rules");
    let region_rule = rules
        .get("WafNeedsUsEast1")
        .expect("a rule keeps EnableWaf in us-east-1");
    assert_eq!(
        region_rule["Assertions"][0]["Assert"],
        json!({"Fn::Equals": [{"Ref": "AWS::Region"}, "us-east-1"]})
    );
    let exclusive = rules
        .get("OneWebAcl")
        .expect("a rule refuses two web ACLs")
        .to_string();
    assert!(
        exclusive.contains("EnableWaf") && exclusive.contains("CdnWebAclArn"),
        "{exclusive}"
    );
}
