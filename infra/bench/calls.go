package main

import (
	"context"
	"fmt"
	"maps"
	"slices"
	"strings"
	"sync"
	"time"

	awsmiddleware "github.com/aws/aws-sdk-go-v2/aws/middleware"
	"github.com/aws/smithy-go/middleware"
)

// calls counts a client's API calls by operation and the time they took
// (from the SDK's first step to the answer, retries included), so the
// report can say what an export asks of DynamoDB beyond the message pages.
type calls struct {
	mu  sync.Mutex
	ops map[string]callStat
}

type callStat struct {
	N    int
	Time time.Duration
}

// add is the SDK option that installs the counter on a client.
func (c *calls) add(stack *middleware.Stack) error {
	return stack.Initialize.Add(middleware.InitializeMiddlewareFunc("benchCalls",
		func(ctx context.Context, in middleware.InitializeInput, next middleware.InitializeHandler) (middleware.InitializeOutput, middleware.Metadata, error) {
			start := time.Now()
			out, md, err := next.HandleInitialize(ctx, in)
			c.note(awsmiddleware.GetOperationName(ctx), time.Since(start))
			return out, md, err
		}), middleware.Before)
}

func (c *calls) note(op string, d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.ops == nil {
		c.ops = map[string]callStat{}
	}
	s := c.ops[op]
	s.N++
	s.Time += d
	c.ops[op] = s
}

// take returns the counts so far and starts again from zero.
func (c *calls) take() map[string]callStat {
	c.mu.Lock()
	defer c.mu.Unlock()
	ops := c.ops
	c.ops = nil
	return ops
}

// summary writes counts as "Query 205 (2.41 s), BatchGetItem 50 (0.30 s)",
// the most called first.
func summary(ops map[string]callStat) string {
	names := slices.SortedFunc(maps.Keys(ops), func(a, b string) int {
		if d := ops[b].N - ops[a].N; d != 0 {
			return d
		}
		return strings.Compare(a, b)
	})
	parts := make([]string, len(names))
	for i, n := range names {
		parts[i] = fmt.Sprintf("%s %d (%.2f s)", n, ops[n].N, ops[n].Time.Seconds())
	}
	return strings.Join(parts, ", ")
}
