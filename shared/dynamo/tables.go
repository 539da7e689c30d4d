package dynamo

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
)

// TableDefinitions are the three tables as CreateTable inputs: pk (S, HASH)
// and sk (S, RANGE), on-demand billing. template.yaml declares the same key
// schemas, plus what CreateTable cannot say: point-in-time recovery and a
// TimeToLiveSpecification on TTLAttribute (only Jobs items carry it; on the
// other tables it is harmless).
func TableDefinitions(t Tables) []dynamodb.CreateTableInput {
	defs := make([]dynamodb.CreateTableInput, 0, 3)
	for _, name := range []string{t.Directory, t.Messages, t.Jobs} {
		defs = append(defs, dynamodb.CreateTableInput{
			TableName: ptr(name),
			AttributeDefinitions: []types.AttributeDefinition{
				{AttributeName: ptr(attrPK), AttributeType: types.ScalarAttributeTypeS},
				{AttributeName: ptr(attrSK), AttributeType: types.ScalarAttributeTypeS},
			},
			KeySchema: []types.KeySchemaElement{
				{AttributeName: ptr(attrPK), KeyType: types.KeyTypeHash},
				{AttributeName: ptr(attrSK), KeyType: types.KeyTypeRange},
			},
			BillingMode: types.BillingModePayPerRequest,
		})
	}
	return defs
}

// tableWait bounds how long CreateTables waits for one table to be ACTIVE.
const tableWait = 5 * time.Minute

// CreateTables creates the three tables (for tests, local tooling and the
// loader) and waits until each is ACTIVE. A table that already exists is
// left as it is, so running it twice is harmless. It does not set up TTL:
// dynalite has no UpdateTimeToLive, and a deployed stack gets it from
// template.yaml.
func CreateTables(ctx context.Context, client *dynamodb.Client, t Tables) error {
	defs := TableDefinitions(t)
	for i := range defs {
		_, err := client.CreateTable(ctx, &defs[i])
		var inUse *types.ResourceInUseException
		if err != nil && !errors.As(err, &inUse) {
			return fmt.Errorf("dynamo: create table %s: %w", *defs[i].TableName, err)
		}
	}
	waiter := dynamodb.NewTableExistsWaiter(client, func(o *dynamodb.TableExistsWaiterOptions) {
		o.MinDelay, o.MaxDelay = 100*time.Millisecond, 5*time.Second
	})
	for _, d := range defs {
		if err := waiter.Wait(ctx, &dynamodb.DescribeTableInput{TableName: d.TableName}, tableWait); err != nil {
			return fmt.Errorf("dynamo: wait for table %s: %w", *d.TableName, err)
		}
	}
	return nil
}

// IAMActions are the DynamoDB actions a Store sends — one per method of API —
// for least-privilege policies (CreateTables needs dynamodb:CreateTable and
// dynamodb:DescribeTable besides, and only where tables are created).
func IAMActions() []string {
	return []string{
		"dynamodb:BatchGetItem", "dynamodb:BatchWriteItem", "dynamodb:DeleteItem", "dynamodb:GetItem",
		"dynamodb:PutItem", "dynamodb:Query", "dynamodb:UpdateItem",
	}
}
