// Package lambdatest runs the real Lambda binaries end to end: the API and
// worker bootstraps, built by the Makefile's SAM build targets, each under
// the AWS Lambda runtime interface emulator (aws-lambda-rie), against the
// DynamoDB, S3 and SES emulators. The API function's real service/lambda
// client hands background exports to the worker's emulator. Its tests are
// the proof that what `sam build` packs works; BenchmarkFirstInvocation
// measures issue 4's cold start (a fresh emulator and bootstrap per
// iteration, the first Invoke timed). It has no other code.
package lambdatest
