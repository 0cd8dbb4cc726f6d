"""template.yaml's webhook side: wiring, least privilege, and the retry schedule agreeing with the redrive."""

from pathlib import Path

from videohook.config import DEFAULT_WEBHOOK_RETRY_SCHEDULE, parse_retry_schedule

from devtools.local_invoke import function_spec, load_template

ROOT = Path(__file__).resolve().parents[2]
TEMPLATE = load_template(ROOT / "template.yaml")
RESOURCES = TEMPLATE["Resources"]
VARIABLES = RESOURCES["WebhookFunction"]["Properties"]["Environment"]["Variables"]  # WebhookFunction's own


def test_the_schedule_in_the_template_is_the_real_one_and_matches_the_redrive_count():
    schedule = parse_retry_schedule(VARIABLES["WEBHOOK_RETRY_SCHEDULE"])
    assert schedule == DEFAULT_WEBHOOK_RETRY_SCHEDULE == (0, 5, 300, 1800, 7200, 18000, 36000, 36000)
    redrive = RESOURCES["WebhookQueue"]["Properties"]["RedrivePolicy"]
    assert redrive["maxReceiveCount"] == len(schedule)
    assert redrive["deadLetterTargetArn"] == {"Fn::GetAtt": ["WebhookDeadLetterQueue", "Arn"]}
    assert VARIABLES["WEBHOOK_TIMEOUT_SECONDS"] == "15"
    assert VARIABLES["ALLOW_LOOPBACK_CALLBACKS"] == "false"


def test_the_queue_is_subscribed_raw_and_only_the_topic_may_send():
    subscription = RESOURCES["WebhookSubscription"]["Properties"]
    assert subscription["RawMessageDelivery"] is True and subscription["Protocol"] == "sqs"
    assert subscription["TopicArn"] == {"Ref": "EventsTopic"}
    (statement,) = RESOURCES["WebhookQueuePolicy"]["Properties"]["PolicyDocument"]["Statement"]
    assert statement["Principal"] == {"Service": "sns.amazonaws.com"} and statement["Action"] == "sqs:SendMessage"
    assert statement["Condition"]["ArnEquals"]["aws:SourceArn"] == {"Ref": "EventsTopic"}


def test_the_function_reports_partial_batch_failures_and_outlives_a_batch():
    function = RESOURCES["WebhookFunction"]["Properties"]
    source = function["Events"]["Deliveries"]["Properties"]
    assert source["FunctionResponseTypes"] == ["ReportBatchItemFailures"]
    assert source["Queue"] == {"Fn::GetAtt": ["WebhookQueue", "Arn"]}
    timeout_per_message = float(VARIABLES["WEBHOOK_TIMEOUT_SECONDS"]) + 5  # answer + name resolution
    assert function["Timeout"] >= source["BatchSize"] * timeout_per_message
    assert RESOURCES["WebhookQueue"]["Properties"]["VisibilityTimeout"] >= function["Timeout"]


def test_least_privilege():
    policies = RESOURCES["WebhookFunction"]["Properties"]["Policies"]
    assert {"AWSSecretsManagerGetSecretValuePolicy": {"SecretArn": {"Ref": "WebhookSecret"}}} in policies
    assert {"SQSPollerPolicy": {"QueueName": {"Fn::GetAtt": ["WebhookQueue", "QueueName"]}}} in policies
    (table,) = [p["Statement"][0] for p in policies if "Statement" in p]
    assert sorted(table["Action"]) == ["dynamodb:GetItem", "dynamodb:UpdateItem"]
    api = RESOURCES["ApiFunction"]["Properties"]
    assert {"SQSSendMessagePolicy": {"QueueName": {"Fn::GetAtt": ["WebhookQueue", "QueueName"]}}} in api["Policies"]
    assert api["Events"]["RedeliverJob"]["Properties"]["Path"] == "/v1/jobs/{provider}/{video_id}/redeliver"
    # the poller may not read the signing secret
    poller = RESOURCES["PollerFunction"]["Properties"]["Policies"]
    assert not any("WebhookSecret" in str(policy) for policy in poller)


def test_the_stack_makes_its_signing_secret_and_watches_the_dead_letters():
    generate = RESOURCES["WebhookSecret"]["Properties"]["GenerateSecretString"]
    assert generate["PasswordLength"] == 32 and generate["ExcludePunctuation"] is True  # base64 letters only
    assert VARIABLES["WEBHOOK_SECRET_ARN"] == {"Ref": "WebhookSecret"}
    alarm = RESOURCES["WebhookDeadLetterAlarm"]["Properties"]
    assert alarm["MetricName"] == "ApproximateNumberOfMessagesVisible" and alarm["Threshold"] == 0
    assert alarm["Dimensions"][0]["Value"] == {"Fn::GetAtt": ["WebhookDeadLetterQueue", "QueueName"]}
    assert {"WebhookSecretArn", "WebhookDeadLetterQueueUrl"} <= set(TEMPLATE["Outputs"])


def test_the_function_runs_locally_from_the_template():
    spec = function_spec(TEMPLATE, "WebhookFunction")
    assert spec.code_dir == ROOT / "functions" / "webhook" and spec.handler == "app.lambda_handler"
    assert spec.environment["WEBHOOK_SECRET_ARN"] == "WebhookSecret"  # what `sam local` gives a Ref
    assert spec.environment["ALLOW_LOOPBACK_CALLBACKS"] == "false"
