// Package sam holds the contract tests of the AWS SAM application at the
// repository root: template.yaml, samconfig.toml and the Makefile's
// build-<LogicalId> targets. The tests hold the template to the code — every
// environment variable shared/settings reads, the tables shared/dynamo
// defines, the SDK calls each adapter's API interface can make — and to the
// deployment rules of the design card (provided.al2023 on arm64, makefile
// builds, least-privilege policies, encrypted and private storage, failed
// background exports never lost), run cfn-lint on it, and build the real
// bootstrap binaries the way `sam build` does.
//
// The package has no code of its own; everything is in its tests, which
// plain `go test` (and so `make test`) runs.
package sam
