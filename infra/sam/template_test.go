package sam

import (
	"encoding/json"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/rooms-export/rooms-export/shared/export"

	"github.com/rooms-export/rooms-export/shared/settings"
)

// TestFunctionsRunOnProvidedAL2023 checks what makes the two Lambdas the
// Go binaries the Makefile builds: the OS-only runtime on Graviton, the
// bootstrap handler, a makefile build of the whole module, JSON logs.
func TestFunctionsRunOnProvidedAL2023(t *testing.T) {
	s := loadStack(t)
	for _, id := range s.functions(t) {
		fn := s.function(id)
		if got := render(fn["Runtime"]); got != "provided.al2023" {
			t.Errorf("%s: Runtime %q, want provided.al2023", id, got)
		}
		if got := strs(fn["Architectures"]); !slices.Equal(got, []string{"arm64"}) {
			t.Errorf("%s: Architectures %v, want [arm64] (the Makefile builds GOARCH=arm64)", id, got)
		}
		if got := render(fn["Handler"]); got != "bootstrap" {
			t.Errorf("%s: Handler %q, want bootstrap", id, got)
		}
		if got := render(fn["CodeUri"]); got != "." {
			t.Errorf("%s: CodeUri %q, want . (one go.mod at the root)", id, got)
		}
		if got := render(get(s.Resources[id].Metadata, "BuildMethod")); got != "makefile" {
			t.Errorf("%s: Metadata.BuildMethod %q, want makefile", id, got)
		}
		if got := render(get(fn, "LoggingConfig", "LogFormat")); got != "JSON" {
			t.Errorf("%s: LoggingConfig.LogFormat %q, want JSON", id, got)
		}
		if pt := fn["PackageType"]; pt != nil && render(pt) != "Zip" {
			t.Errorf("%s: PackageType %v, want Zip", id, pt)
		}
		timeout, err := strconv.Atoi(render(fn["Timeout"]))
		if err != nil || timeout < 1 || timeout > 900 {
			t.Errorf("%s: Timeout %v, want 1..900 seconds", id, fn["Timeout"])
		}
		if mem, err := strconv.Atoi(render(fn["MemorySize"])); err != nil || mem < 128 {
			t.Errorf("%s: MemorySize %v, want at least 128 MB", id, fn["MemorySize"])
		}
	}
	// API Gateway gives up on an integration after 29 s; a longer function
	// timeout would keep running after the client got a 504.
	if got := render(s.function("ApiFunction")["Timeout"]); got != "29" {
		t.Errorf("ApiFunction: Timeout %s, want 29 (API Gateway's integration timeout)", got)
	}
	if got := render(s.function("WorkerFunction")["Timeout"]); got != "900" {
		t.Errorf("WorkerFunction: Timeout %s, want 900 (background exports get Lambda's maximum)", got)
	}
}

// TestFunctionEnvironment holds each function's environment to
// settings.Vars: every service and AWS variable set (WORKER_FUNCTION on the
// API function only: the worker hands nothing on), no emulator or local
// variable, nothing the code does not read; the AWS variables name the
// stack's own resources and the service variables come from parameters
// whose defaults are the code's defaults.
func TestFunctionEnvironment(t *testing.T) {
	s := loadStack(t)
	wantAWS := map[string]string{
		"DIRECTORY_TABLE":  "!Ref DirectoryTable",
		"MESSAGES_TABLE":   "!Ref MessagesTable",
		"JOBS_TABLE":       "!Ref JobsTable",
		"EXPORTS_BUCKET":   "!Ref ExportsBucket",
		"WORKER_FUNCTION":  "!Ref WorkerFunction",
		"LINK_SIGNING_KEY": "!Ref LinkSigningKey",
	}
	known := map[string]settings.Var{}
	for _, v := range settings.Vars {
		known[v.Name] = v
	}
	for _, id := range s.functions(t) {
		env, _ := get(s.function(id), "Environment", "Variables").(map[string]any)
		for _, v := range settings.Vars {
			val, set := env[v.Name]
			want := v.Scope == settings.ScopeService || v.Scope == settings.ScopeAWS
			if v.Name == "WORKER_FUNCTION" {
				want = id == "ApiFunction"
			}
			switch {
			case want && !set:
				t.Errorf("%s: %s (%s) is not set", id, v.Name, v.Scope)
				continue
			case !want && set:
				t.Errorf("%s: %s (%s) must not be set in the template", id, v.Name, v.Scope)
				continue
			case !set:
				continue
			}
			got := render(val)
			switch v.Scope {
			case settings.ScopeAWS:
				w, ok := wantAWS[v.Name]
				if !ok {
					t.Errorf("%s: no expectation for AWS variable %s: add it to wantAWS", id, v.Name)
				} else if got != w {
					t.Errorf("%s: %s = %s, want %s", id, v.Name, got, w)
				}
			case settings.ScopeService:
				name, ok := strings.CutPrefix(got, "!Ref ")
				p, declared := s.Parameters[name]
				if !ok || !declared {
					t.Errorf("%s: %s = %s, want !Ref of a parameter", id, v.Name, got)
					continue
				}
				if p.Default != nil && render(p.Default) != v.Default {
					t.Errorf("parameter %s: Default %q, but the code's default of %s is %q", name, render(p.Default), v.Name, v.Default)
				}
			}
		}
		for name := range env {
			if _, ok := known[name]; !ok {
				t.Errorf("%s: %s is not read by the code (settings.Vars)", id, name)
			}
		}
	}
}

// TestParameters checks the parameters the design card asks for and the
// rules the code applies to them.
func TestParameters(t *testing.T) {
	s := loadStack(t)
	for _, name := range []string{
		"SenderEmail", "LinkSigningKey", "LinkTTL", "ExportRetentionDays", "AttachmentLimitBytes",
		"RateLimitCalls", "InlineBudget", "WorkerBudget", "PublicUrl", "LogLevel", "ApiThrottleRate", "ApiThrottleBurst",
	} {
		if _, ok := s.Parameters[name]; !ok {
			t.Errorf("parameter %s is missing", name)
		}
	}
	for name, p := range s.Parameters {
		if p.Description == nil || *p.Description == "" {
			t.Errorf("parameter %s has no Description (sam deploy --guided shows none)", name)
		}
	}

	key := s.Parameters["LinkSigningKey"]
	if key.NoEcho == nil || !*key.NoEcho {
		t.Error("LinkSigningKey must be NoEcho")
	}
	if key.Default != nil {
		t.Error("LinkSigningKey must have no default: every stack needs its own secret")
	}
	if key.MinLength == nil {
		t.Fatal("LinkSigningKey has no MinLength")
	}
	// The stack must refuse exactly the keys the functions refuse at start.
	minLen := *key.MinLength
	if err := requireAWS(strings.Repeat("k", minLen)); err != nil {
		t.Errorf("LinkSigningKey MinLength %d, but the functions refuse a key of that length: %v", minLen, err)
	}
	if err := requireAWS(strings.Repeat("k", minLen-1)); err == nil {
		t.Errorf("LinkSigningKey MinLength %d, but the functions accept a key of %d characters", minLen, minLen-1)
	}

	// Archives must outlive the links to them.
	ttl, err := time.ParseDuration(render(s.Parameters["LinkTTL"].Default))
	if err != nil {
		t.Fatalf("LinkTTL default: %v", err)
	}
	days, err := strconv.Atoi(render(s.Parameters["ExportRetentionDays"].Default))
	if err != nil {
		t.Fatalf("ExportRetentionDays default: %v", err)
	}
	if time.Duration(days)*24*time.Hour <= ttl {
		t.Errorf("ExportRetentionDays default %d days does not exceed LinkTTL default %s", days, ttl)
	}
}

// requireAWS runs the functions' own start-up check with a complete AWS
// configuration and the given link signing key.
func requireAWS(key string) error {
	env := map[string]string{
		"DIRECTORY_TABLE": "d", "MESSAGES_TABLE": "m", "JOBS_TABLE": "j",
		"EXPORTS_BUCKET": "b", "WORKER_FUNCTION": "w", "LINK_SIGNING_KEY": key,
	}
	cfg, err := settings.Load(func(name string) string { return env[name] })
	if err != nil {
		return err
	}
	return cfg.RequireAWS(false)
}

// TestApiRoutes checks the REST API: its prod stage, throttling from the
// parameters, and the three routes of ApiFunction, which must also be the
// routes of every API Gateway event in events/.
func TestApiRoutes(t *testing.T) {
	s := loadStack(t)
	api, ok := s.Resources["Api"]
	if !ok || api.Type != "AWS::Serverless::Api" {
		t.Fatal("no AWS::Serverless::Api named Api (a REST API)")
	}
	if got := render(api.Properties["StageName"]); got != "prod" {
		t.Errorf("Api: StageName %q, want prod", got)
	}
	throttled := false
	for _, ms := range list(api.Properties["MethodSettings"]) {
		if render(get(ms, "ThrottlingRateLimit")) == "!Ref ApiThrottleRate" &&
			render(get(ms, "ThrottlingBurstLimit")) == "!Ref ApiThrottleBurst" &&
			render(get(ms, "ResourcePath")) == "/*" && render(get(ms, "HttpMethod")) == "*" {
			throttled = true
		}
	}
	if !throttled {
		t.Error("Api: no MethodSettings for /* and * throttled by ApiThrottleRate and ApiThrottleBurst")
	}

	routes := map[string]bool{}
	for _, id := range s.functions(t) {
		events, _ := s.Resources[id].Properties["Events"].(map[string]any)
		for name, ev := range events {
			if render(get(ev, "Type")) != "Api" {
				continue
			}
			if id != "ApiFunction" {
				t.Errorf("%s: API event %s: only ApiFunction serves the API", id, name)
			}
			if got := render(get(ev, "Properties", "RestApiId")); got != "!Ref Api" {
				t.Errorf("%s: event %s: RestApiId %s, want !Ref Api (else SAM makes an implicit API without throttling)", id, name, got)
			}
			routes[strings.ToUpper(render(get(ev, "Properties", "Method")))+" "+render(get(ev, "Properties", "Path"))] = true
		}
	}
	want := []string{"GET /api/v1/rooms.export.download", "GET /api/v1/rooms.export.status", "POST /api/v1/rooms.export"}
	var got []string
	for r := range routes {
		got = append(got, r)
	}
	sort.Strings(got)
	if !slices.Equal(got, want) {
		t.Errorf("API routes %v, want %v", got, want)
	}

	files, err := filepath.Glob(filepath.Join(repoRoot, "events", "*.json"))
	if err != nil {
		t.Fatal(err)
	}
	checked := 0
	for _, f := range files {
		data, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		var ev struct {
			Resource   string `json:"resource"`
			HTTPMethod string `json:"httpMethod"`
		}
		if json.Unmarshal(data, &ev) != nil || ev.HTTPMethod == "" {
			continue // not an API Gateway event (worker events)
		}
		checked++
		if r := ev.HTTPMethod + " " + ev.Resource; !routes[r] {
			t.Errorf("%s: route %s is not in the template", filepath.Base(f), r)
		}
	}
	if checked == 0 {
		t.Error("no API Gateway event in events/ to check the routes against")
	}
}

// TestWorkerNeverLosesAJob checks the path of a failed background export:
// Lambda retries the asynchronous invocation, then sends the destination
// record to ExportQueue, whose SQS event runs the worker again, reporting
// failures per record; what still fails ends in a dead-letter queue that
// keeps it for 14 days and raises an alarm.
func TestWorkerNeverLosesAJob(t *testing.T) {
	s := loadStack(t)
	w := s.function("WorkerFunction")
	eic, _ := w["EventInvokeConfig"].(map[string]any)
	if eic == nil {
		t.Fatal("WorkerFunction has no EventInvokeConfig")
	}
	if n, err := strconv.Atoi(render(eic["MaximumRetryAttempts"])); err != nil || n < 1 || n > 2 {
		t.Errorf("EventInvokeConfig.MaximumRetryAttempts %v, want 1 or 2", eic["MaximumRetryAttempts"])
	}
	if n, err := strconv.Atoi(render(eic["MaximumEventAgeInSeconds"])); err != nil || n < 60 || n > 21600 {
		t.Errorf("EventInvokeConfig.MaximumEventAgeInSeconds %v, want 60..21600", eic["MaximumEventAgeInSeconds"])
	}
	onFailure := get(eic, "DestinationConfig", "OnFailure")
	if render(get(onFailure, "Type")) != "SQS" || render(get(onFailure, "Destination")) != "!GetAtt ExportQueue.Arn" {
		t.Errorf("EventInvokeConfig OnFailure %s, want Type SQS to !GetAtt ExportQueue.Arn", render(onFailure))
	}

	var redrive map[string]any
	events, _ := w["Events"].(map[string]any)
	for _, ev := range events {
		if render(get(ev, "Type")) == "SQS" {
			redrive, _ = get(ev, "Properties").(map[string]any)
		}
	}
	if redrive == nil {
		t.Fatal("WorkerFunction has no SQS event")
	}
	if got := render(redrive["Queue"]); got != "!GetAtt ExportQueue.Arn" {
		t.Errorf("SQS event Queue %s, want !GetAtt ExportQueue.Arn", got)
	}
	if got := render(redrive["BatchSize"]); got != "1" {
		t.Errorf("SQS event BatchSize %s, want 1 (one export per invocation)", got)
	}
	if !slices.Contains(strs(redrive["FunctionResponseTypes"]), "ReportBatchItemFailures") {
		t.Error("SQS event lacks FunctionResponseTypes ReportBatchItemFailures (the handler reports failed records)")
	}

	timeout, _ := strconv.Atoi(render(w["Timeout"]))
	q := s.Resources["ExportQueue"]
	if q.Type != "AWS::SQS::Queue" {
		t.Fatal("no AWS::SQS::Queue ExportQueue")
	}
	if vt, err := strconv.Atoi(render(q.Properties["VisibilityTimeout"])); err != nil || vt < 6*timeout {
		t.Errorf("ExportQueue VisibilityTimeout %v, want at least 6 × the worker's %d s", q.Properties["VisibilityTimeout"], timeout)
	}
	if got := render(get(q.Properties, "RedrivePolicy", "deadLetterTargetArn")); got != "!GetAtt ExportDeadLetterQueue.Arn" {
		t.Errorf("ExportQueue RedrivePolicy target %s, want !GetAtt ExportDeadLetterQueue.Arn", got)
	}
	if n, err := strconv.Atoi(render(get(q.Properties, "RedrivePolicy", "maxReceiveCount"))); err != nil || n < 1 {
		t.Errorf("ExportQueue RedrivePolicy maxReceiveCount %v", get(q.Properties, "RedrivePolicy", "maxReceiveCount"))
	}
	dlq := s.Resources["ExportDeadLetterQueue"]
	if got := render(dlq.Properties["MessageRetentionPeriod"]); got != "1209600" {
		t.Errorf("ExportDeadLetterQueue MessageRetentionPeriod %s, want 1209600 (14 days)", got)
	}
	for _, id := range []string{"ExportQueue", "ExportDeadLetterQueue"} {
		p := s.Resources[id].Properties
		if render(p["SqsManagedSseEnabled"]) != "true" && p["KmsMasterKeyId"] == nil {
			t.Errorf("%s is not encrypted (SqsManagedSseEnabled or KmsMasterKeyId)", id)
		}
		if p["FifoQueue"] != nil {
			t.Errorf("%s: Lambda destinations cannot be FIFO queues", id)
		}
	}

	alarmed := false
	for _, id := range s.ofType("AWS::CloudWatch::Alarm") {
		p := s.Resources[id].Properties
		for _, d := range list(p["Dimensions"]) {
			if render(get(d, "Value")) == "!GetAtt ExportDeadLetterQueue.QueueName" &&
				render(p["MetricName"]) == "ApproximateNumberOfMessagesVisible" {
				alarmed = true
			}
		}
	}
	if !alarmed {
		t.Error("no alarm on ExportDeadLetterQueue's ApproximateNumberOfMessagesVisible")
	}
}

// TestStorage checks the bucket (private, encrypted, TLS only, archives
// expired, broken multipart uploads aborted) and the tables (on demand,
// point-in-time recovery, TTL, encrypted; the workspace's data retained).
func TestStorage(t *testing.T) {
	s := loadStack(t)
	b, ok := s.Resources["ExportsBucket"]
	if !ok || b.Type != "AWS::S3::Bucket" {
		t.Fatal("no AWS::S3::Bucket ExportsBucket")
	}
	for _, k := range []string{"BlockPublicAcls", "BlockPublicPolicy", "IgnorePublicAcls", "RestrictPublicBuckets"} {
		if render(get(b.Properties, "PublicAccessBlockConfiguration", k)) != "true" {
			t.Errorf("ExportsBucket: PublicAccessBlockConfiguration.%s is not true", k)
		}
	}
	algo := ""
	for _, r := range list(get(b.Properties, "BucketEncryption", "ServerSideEncryptionConfiguration")) {
		algo = render(get(r, "ServerSideEncryptionByDefault", "SSEAlgorithm"))
	}
	if algo != "AES256" && algo != "aws:kms" {
		t.Errorf("ExportsBucket: default encryption %q, want AES256 or aws:kms", algo)
	}
	if got := render(get(b.Properties, "OwnershipControls")); !strings.Contains(got, `"ObjectOwnership":"BucketOwnerEnforced"`) {
		t.Errorf("ExportsBucket: OwnershipControls %s, want BucketOwnerEnforced (no ACLs)", got)
	}
	var expires, aborts bool
	for _, r := range list(get(b.Properties, "LifecycleConfiguration", "Rules")) {
		if render(get(r, "Status")) != "Enabled" {
			continue
		}
		prefix := render(get(r, "Prefix"))
		if prefix == export.ExportsPrefix && render(get(r, "ExpirationInDays")) == "!Ref ExportRetentionDays" {
			expires = true
		}
		if get(r, "Prefix") == nil && get(r, "TagFilters") == nil && render(get(r, "AbortIncompleteMultipartUpload", "DaysAfterInitiation")) == "1" {
			aborts = true
		}
	}
	if !expires {
		t.Error("ExportsBucket: no enabled rule expiring export.ExportsPrefix after ExportRetentionDays")
	}
	if !aborts {
		t.Error("ExportsBucket: no enabled bucket-wide rule aborting incomplete multipart uploads after 1 day")
	}
	tlsOnly := false
	for _, id := range s.ofType("AWS::S3::BucketPolicy") {
		p := s.Resources[id].Properties
		if render(p["Bucket"]) != "!Ref ExportsBucket" {
			continue
		}
		for _, st := range statements(id, p["PolicyDocument"]) {
			res := st.resources()
			if st.effect() == "Deny" && render(get(st.doc, "Condition", "Bool", "aws:SecureTransport")) == "false" &&
				slices.Contains(res, "!GetAtt ExportsBucket.Arn") && slices.Contains(res, "!Sub ${ExportsBucket.Arn}/*") {
				tlsOnly = true
			}
		}
	}
	if !tlsOnly {
		t.Error("ExportsBucket: no bucket policy denying requests without TLS (aws:SecureTransport false)")
	}

	tables := s.ofType("AWS::DynamoDB::Table")
	if want := []string{"DirectoryTable", "JobsTable", "MessagesTable"}; !slices.Equal(tables, want) {
		t.Errorf("tables %v, want %v", tables, want)
	}
	for _, id := range tables {
		p := s.Resources[id].Properties
		if got := render(p["BillingMode"]); got != "PAY_PER_REQUEST" {
			t.Errorf("%s: BillingMode %q, want PAY_PER_REQUEST", id, got)
		}
		if render(get(p, "PointInTimeRecoverySpecification", "PointInTimeRecoveryEnabled")) != "true" {
			t.Errorf("%s: point-in-time recovery is off", id)
		}
		if render(get(p, "SSESpecification", "SSEEnabled")) != "true" {
			t.Errorf("%s: SSESpecification.SSEEnabled is not true", id)
		}
		if render(get(p, "TimeToLiveSpecification", "Enabled")) != "true" {
			t.Errorf("%s: TimeToLiveSpecification is not enabled", id)
		}
		if p["TableName"] != nil {
			t.Errorf("%s: TableName set: a fixed name blocks replacements and a second stack", id)
		}
	}
	for _, id := range []string{"DirectoryTable", "MessagesTable", "ExportsBucket"} {
		r := s.Resources[id]
		if r.DeletionPolicy != "Retain" || r.UpdateReplacePolicy != "Retain" {
			t.Errorf("%s holds the workspace's data: DeletionPolicy and UpdateReplacePolicy must be Retain, are %q and %q",
				id, r.DeletionPolicy, r.UpdateReplacePolicy)
		}
	}
}

// TestOutputs checks what the deploy guide and the loading tool read from
// the stack.
func TestOutputs(t *testing.T) {
	s := loadStack(t)
	want := map[string]string{
		"ApiUrl":                   "!Sub https://${Api}.execute-api.${AWS::Region}.${AWS::URLSuffix}/prod",
		"ExportsBucketName":        "!Ref ExportsBucket",
		"DirectoryTableName":       "!Ref DirectoryTable",
		"MessagesTableName":        "!Ref MessagesTable",
		"JobsTableName":            "!Ref JobsTable",
		"ExportQueueUrl":           "!Ref ExportQueue",
		"ExportDeadLetterQueueUrl": "!Ref ExportDeadLetterQueue",
		"WorkerFunctionName":       "!Ref WorkerFunction",
	}
	for name, w := range want {
		o, ok := s.Outputs[name]
		if !ok {
			t.Errorf("output %s is missing", name)
			continue
		}
		if got := render(o.Value); got != w {
			t.Errorf("output %s = %s, want %s", name, got, w)
		}
	}
}
