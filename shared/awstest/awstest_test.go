package awstest

import (
	"io"
	"net/http"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
)

func TestDynaliteAnswersTheSDK(t *testing.T) {
	e, err := Start(DynamoDB)
	if err != nil {
		t.Fatal(err)
	}
	defer e.Stop()
	ctx, cancel := Context()
	defer cancel()
	out, err := dynamodb.NewFromConfig(Config(e.Endpoint)).ListTables(ctx, &dynamodb.ListTablesInput{})
	if err != nil {
		t.Fatal(err)
	}
	if len(out.TableNames) != 0 {
		t.Fatalf("a fresh emulator has tables: %v", out.TableNames)
	}
}

func TestSESStoreIsEmptyAtStart(t *testing.T) {
	e, err := Start(SES)
	if err != nil {
		t.Fatal(err)
	}
	defer e.Stop()
	resp, err := http.Get(e.Endpoint + "/store")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	if !strings.Contains(string(b), `"emails":[]`) {
		t.Fatalf("store = %s", b)
	}
}
