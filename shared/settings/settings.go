// Package settings is the one configuration loader: every environment
// variable any function or the local server reads is read here, so the
// README's reference and the template's environment can be checked against
// one list (Names).
package settings

import (
	"fmt"
	"sort"
	"strconv"
	"time"

	"github.com/rooms-export/rooms-export/shared/export"
)

// Settings is the whole configuration.
type Settings struct {
	Export export.Config

	// Local server.
	Port      string // PORT, default 3000
	DataDir   string // DATA_DIR, default ./.data
	PublicURL string // PUBLIC_URL: base of download links; derived from the request when empty
	LogLevel  string // LOG_LEVEL: debug, info (default), warn, error

	AWS AWS
}

// AWS is where the Lambda functions find their resources. The endpoints are
// for emulators and stay unset in production.
type AWS struct {
	DirectoryTable   string // DIRECTORY_TABLE
	MessagesTable    string // MESSAGES_TABLE
	JobsTable        string // JOBS_TABLE
	Bucket           string // EXPORTS_BUCKET
	WorkerFunction   string // WORKER_FUNCTION: name or ARN of the worker Lambda
	FunctionName     string // AWS_LAMBDA_FUNCTION_NAME: this function's own name
	LinkSigningKey   string // LINK_SIGNING_KEY: secret of download links, at least 32 characters
	DynamoDBEndpoint string // DYNAMODB_ENDPOINT
	S3Endpoint       string // S3_ENDPOINT
	S3PathStyle      bool   // S3_FORCE_PATH_STYLE
	SESEndpoint      string // SES_ENDPOINT
	LambdaEndpoint   string // LAMBDA_ENDPOINT
}

// Var documents one environment variable.
type Var struct {
	Name, Default, Meaning string
	Scope                  string // ScopeLocal, ScopeService, ScopeAWS or ScopeEmulator
}

// Scopes of variables: who reads them, and so where they must be set.
const (
	ScopeLocal    = "local"    // the local server only
	ScopeService  = "service"  // every function and the local server (defaults apply)
	ScopeAWS      = "aws"      // the Lambda functions; the template sets them
	ScopeEmulator = "emulator" // only when pointing the functions at emulators; unset in production
	ScopeRuntime  = "runtime"  // set by the Lambda runtime itself
)

// Vars lists every variable Load reads, for docs and template checks.
var Vars = []Var{
	{"PORT", "3000", "local server port (it listens on 127.0.0.1)", ScopeLocal},
	{"DATA_DIR", "./.data", "local server state: database, files, outbox, signing key", ScopeLocal},
	{"PUBLIC_URL", "", "base URL of download links (derived from the request when empty)", ScopeService},
	{"LOG_LEVEL", "info", "debug, info, warn or error", ScopeService},
	{"TOKEN_TTL_DAYS", "90", "login tokens expire after this many days (personal access tokens never do)", ScopeService},
	{"RATE_LIMIT_CALLS", "10", "rooms.export calls per user per window", ScopeService},
	{"RATE_LIMIT_WINDOW", "60s", "rate-limit window (Go duration)", ScopeService},
	{"LINK_TTL", "168h", "lifetime of download links and archives (Go duration)", ScopeService},
	{"ATTACHMENT_LIMIT_BYTES", "10485760", "largest archive attached to a mail; bigger ones are sent as a link", ScopeService},
	{"INLINE_BUDGET", "5s", "how long the API works on an export before answering \"queued\" and handing the rest to the worker", ScopeService},
	{"WORKER_BUDGET", "0s", "how long one worker run works before checkpointing and handing over (0s: until the Lambda deadline less a margin)", ScopeService},
	{"HTML_PER_PAGE", "10000", "messages per HTML page; bigger exports get pages and an index.html", ScopeService},
	{"MAIL_FROM", "rooms-export@localhost", "the From address of every mail", ScopeService},
	{"DIRECTORY_TABLE", "", "AWS: DynamoDB table of users, tokens, permissions, rooms, subscriptions, uploads", ScopeAWS},
	{"MESSAGES_TABLE", "", "AWS: DynamoDB table of messages (partition: room, sort: ts#id)", ScopeAWS},
	{"JOBS_TABLE", "", "AWS: DynamoDB table of export jobs, dedup pointers and rate-limit windows", ScopeAWS},
	{"EXPORTS_BUCKET", "", "AWS: S3 bucket of export archives and uploaded files", ScopeAWS},
	{"WORKER_FUNCTION", "", "AWS: name or ARN of the worker Lambda that runs background exports", ScopeAWS},
	{"LINK_SIGNING_KEY", "", "AWS: secret that signs download links (at least 32 characters)", ScopeAWS},
	{"AWS_LAMBDA_FUNCTION_NAME", "", "set by Lambda: the worker invokes itself to go on with an export that is out of time", ScopeRuntime},
	{"DYNAMODB_ENDPOINT", "", "emulators only: DynamoDB endpoint URL", ScopeEmulator},
	{"S3_ENDPOINT", "", "emulators only: S3 endpoint URL", ScopeEmulator},
	{"S3_FORCE_PATH_STYLE", "false", "emulators only: path-style S3 URLs", ScopeEmulator},
	{"SES_ENDPOINT", "", "emulators only: SES v2 endpoint URL", ScopeEmulator},
	{"LAMBDA_ENDPOINT", "", "emulators only: Lambda Invoke endpoint URL (the runtime interface emulator)", ScopeEmulator},
}

// Load reads the configuration through getenv (os.Getenv in production).
func Load(getenv func(string) string) (Settings, error) {
	get := func(name string) string {
		if v := getenv(name); v != "" {
			return v
		}
		for _, v := range Vars {
			if v.Name == name {
				return v.Default
			}
		}
		return ""
	}
	var s Settings
	var err error
	s.Port, s.DataDir, s.PublicURL, s.LogLevel = get("PORT"), get("DATA_DIR"), get("PUBLIC_URL"), get("LOG_LEVEL")
	days, err := positiveInt(get, "TOKEN_TTL_DAYS")
	if err != nil {
		return s, err
	}
	s.Export.TokenTTL = time.Duration(days) * 24 * time.Hour
	if s.Export.RateLimit, err = positiveInt(get, "RATE_LIMIT_CALLS"); err != nil {
		return s, err
	}
	if s.Export.RateWindow, err = duration(get, "RATE_LIMIT_WINDOW"); err != nil {
		return s, err
	}
	if s.Export.LinkTTL, err = duration(get, "LINK_TTL"); err != nil {
		return s, err
	}
	limit, err := positiveInt(get, "ATTACHMENT_LIMIT_BYTES")
	if err != nil {
		return s, err
	}
	s.Export.AttachmentLimit = int64(limit)
	if s.Export.InlineBudget, err = duration(get, "INLINE_BUDGET"); err != nil {
		return s, err
	}
	if s.Export.WorkerBudget, err = time.ParseDuration(get("WORKER_BUDGET")); err != nil || s.Export.WorkerBudget < 0 {
		return s, fmt.Errorf("settings: WORKER_BUDGET must be a duration such as 0s or 10m")
	}
	if s.Export.HTMLPerPage, err = positiveInt(get, "HTML_PER_PAGE"); err != nil {
		return s, err
	}
	s.Export.MailFrom = get("MAIL_FROM")
	s.Export = s.Export.WithDefaults()
	s.AWS = AWS{
		DirectoryTable: get("DIRECTORY_TABLE"), MessagesTable: get("MESSAGES_TABLE"), JobsTable: get("JOBS_TABLE"),
		Bucket: get("EXPORTS_BUCKET"), WorkerFunction: get("WORKER_FUNCTION"), FunctionName: get("AWS_LAMBDA_FUNCTION_NAME"), LinkSigningKey: get("LINK_SIGNING_KEY"),
		DynamoDBEndpoint: get("DYNAMODB_ENDPOINT"), S3Endpoint: get("S3_ENDPOINT"),
		SESEndpoint: get("SES_ENDPOINT"), LambdaEndpoint: get("LAMBDA_ENDPOINT"),
	}
	if s.AWS.S3PathStyle, err = strconv.ParseBool(get("S3_FORCE_PATH_STYLE")); err != nil {
		return s, fmt.Errorf("settings: S3_FORCE_PATH_STYLE must be true or false")
	}
	return s, nil
}

// RequireAWS checks the settings a Lambda function cannot run without.
func (s Settings) RequireAWS(worker bool) error {
	need := map[string]string{
		"DIRECTORY_TABLE": s.AWS.DirectoryTable, "MESSAGES_TABLE": s.AWS.MessagesTable,
		"JOBS_TABLE": s.AWS.JobsTable, "EXPORTS_BUCKET": s.AWS.Bucket,
	}
	if !worker {
		need["WORKER_FUNCTION"] = s.AWS.WorkerFunction
	}
	for _, name := range sortedKeys(need) {
		if need[name] == "" {
			return fmt.Errorf("settings: %s is required", name)
		}
	}
	if len(s.AWS.LinkSigningKey) < 32 {
		return fmt.Errorf("settings: LINK_SIGNING_KEY must be at least 32 characters")
	}
	return nil
}

func sortedKeys(m map[string]string) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}

func positiveInt(get func(string) string, name string) (int, error) {
	n, err := strconv.Atoi(get(name))
	if err != nil || n <= 0 {
		return 0, fmt.Errorf("settings: %s must be a positive integer", name)
	}
	return n, nil
}

func duration(get func(string) string, name string) (time.Duration, error) {
	d, err := time.ParseDuration(get(name))
	if err != nil || d <= 0 {
		return 0, fmt.Errorf("settings: %s must be a positive duration such as 60s or 168h", name)
	}
	return d, nil
}
