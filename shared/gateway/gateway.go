// Package gateway is the API function's handler: it turns API Gateway REST
// API proxy events into calls of the export service and its answers (or
// errors) into proxy responses. It holds the one table from error code to
// HTTP status. It lives outside functions/api so that the local server in
// infra/ serves the very same handler as the Lambda does.
package gateway

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"log/slog"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/aws/aws-lambda-go/events"
	"github.com/aws/aws-lambda-go/lambdacontext"

	"github.com/rooms-export/rooms-export/shared/chat"
	"github.com/rooms-export/rooms-export/shared/export"
)

// Routes served.
const (
	PathExport   = "/api/v1/rooms.export"
	PathStatus   = "/api/v1/rooms.export.status"
	PathDownload = export.DownloadPath
)

// maxBody bounds a request body; rooms.export bodies are small.
const maxBody = 256 << 10

// statusOf is the one table from error code to HTTP status (SPEC §1.1).
var statusOf = map[string]int{
	chat.CodeUnauthorized:     401,
	chat.CodeInvalidParams:    400,
	chat.CodeInvalidFormat:    400,
	chat.CodeActionNotAllowed: 400,
	chat.CodeInvalidRoom:      400,
	chat.CodeNotAllowed:       400,
	chat.CodeInvalidDates:     400,
	chat.CodeInvalidRecipient: 400,
	chat.CodeInvalidMessages:  400,
	chat.CodeInvalidEmail:     400,
	chat.CodeTooManyRequests:  429,
	chat.CodeNotFound:         404,
	chat.CodeInvalidLink:      403,
	chat.CodeLinkExpired:      410,
	chat.CodeInternal:         500,
}

// Handler serves the API's routes.
type Handler struct {
	Service *export.Service
	Log     *slog.Logger
	// PublicURL is the base URL download links are built on. When empty it
	// is derived from the event: https://<domain>/<stage>.
	PublicURL string
}

// Handle serves one proxy event. Expected failures are responses with a nil
// error; a returned error would become API Gateway's bare 502, so none is.
func (h *Handler) Handle(ctx context.Context, req events.APIGatewayProxyRequest) (events.APIGatewayProxyResponse, error) {
	start := time.Now()
	reqID := req.RequestContext.RequestID
	if lc, ok := lambdacontext.FromContext(ctx); ok && reqID == "" {
		reqID = lc.AwsRequestID
	}
	log := h.Log.With("request_id", reqID, "method", req.HTTPMethod, "path", req.Path)
	resp, userID, err := h.route(ctx, req)
	if err != nil {
		resp = h.errorResponse(log, err)
		var re *rateError
		if errors.As(err, &re) {
			setRateHeaders(&resp, re.rate)
		}
	}
	log.LogAttrs(ctx, slog.LevelInfo, "request",
		slog.Int("status", resp.StatusCode), slog.String("user_id", userID),
		slog.Duration("duration", time.Since(start)))
	return resp, nil
}

func (h *Handler) route(ctx context.Context, req events.APIGatewayProxyRequest) (events.APIGatewayProxyResponse, string, error) {
	path := strings.TrimRight(req.Path, "/")
	creds := export.Credentials{UserID: header(req, "X-User-Id"), Token: header(req, "X-Auth-Token")}
	switch {
	case path == PathExport && req.HTTPMethod == "POST":
		// An undecodable or oversized body reaches the service as no body:
		// it is refused there, after authentication, like any other bad body.
		res, err := h.Service.Export(ctx, creds, bodyOf(req), h.linkBase(req))
		if err != nil {
			return events.APIGatewayProxyResponse{}, creds.UserID, withRate(err, res.Rate)
		}
		resp := jsonResponse(200, res.Body())
		setRateHeaders(&resp, res.Rate)
		return resp, creds.UserID, nil
	case path == PathStatus && req.HTTPMethod == "GET":
		doc, err := h.Service.Status(ctx, creds, req.QueryStringParameters["exportId"])
		if err != nil {
			return events.APIGatewayProxyResponse{}, creds.UserID, err
		}
		return jsonResponse(200, map[string]any{"success": true, "export": doc}), creds.UserID, nil
	case path == PathDownload && (req.HTTPMethod == "GET" || req.HTTPMethod == "HEAD"):
		q := req.QueryStringParameters
		to, err := h.Service.Download(ctx, q["exportId"], q["expires"], q["sig"])
		if err != nil {
			return events.APIGatewayProxyResponse{}, "", err
		}
		return events.APIGatewayProxyResponse{StatusCode: 302, Headers: map[string]string{
			"Location": to, "Cache-Control": "no-store", "Referrer-Policy": "no-referrer",
		}}, "", nil
	case path == PathExport || path == PathStatus || path == PathDownload:
		resp := jsonResponse(405, map[string]any{"success": false, "error": "Method not allowed [error-method-not-allowed]", "errorType": "error-method-not-allowed"})
		return resp, creds.UserID, nil
	}
	resp := jsonResponse(404, map[string]any{"success": false, "error": "Not found [error-not-found]", "errorType": "error-not-found"})
	return resp, creds.UserID, nil
}

// errorResponse answers an error. Expected failures (a *chat.Error) carry
// their code and reason; anything else is logged with its detail and
// answered with a generic 500.
func (h *Handler) errorResponse(log *slog.Logger, err error) events.APIGatewayProxyResponse {
	if chat.CodeOf(err) == chat.CodeInternal {
		log.Error("internal error", "error", err.Error())
	}
	return errorBody(err)
}

func errorBody(err error) events.APIGatewayProxyResponse {
	var ce *chat.Error
	if !errors.As(err, &ce) {
		ce = &chat.Error{Code: chat.CodeInternal, Reason: "An internal error occurred"}
	}
	if ce.Code == chat.CodeUnauthorized {
		return jsonResponse(401, map[string]any{"success": false, "error": "unauthorized"})
	}
	status, ok := statusOf[ce.Code]
	if !ok {
		status = 500
	}
	resp := jsonResponse(status, map[string]any{"success": false, "error": ce.Message(), "errorType": ce.Code})
	if ce.RetryAfterSeconds > 0 {
		resp.Headers["Retry-After"] = strconv.Itoa(ce.RetryAfterSeconds)
	}
	return resp
}

// rateError carries the rate decision of a counted call that then failed,
// so that its answer still has the X-RateLimit-* headers.
type rateError struct {
	error
	rate *export.RateDecision
}

func (e *rateError) Unwrap() error { return e.error }

func withRate(err error, d *export.RateDecision) error {
	if d == nil {
		return err
	}
	return &rateError{err, d}
}

// setRateHeaders adds Rocket.Chat's rate-limit headers (Reset in epoch ms).
func setRateHeaders(resp *events.APIGatewayProxyResponse, d *export.RateDecision) {
	if d == nil {
		return
	}
	resp.Headers["X-RateLimit-Limit"] = strconv.Itoa(d.Limit)
	resp.Headers["X-RateLimit-Remaining"] = strconv.Itoa(d.Remaining)
	resp.Headers["X-RateLimit-Reset"] = strconv.FormatInt(d.Reset.UnixMilli(), 10)
}

func jsonResponse(status int, body any) events.APIGatewayProxyResponse {
	b, err := json.Marshal(body)
	if err != nil {
		status, b = 500, []byte(`{"success":false,"error":"An internal error occurred [error-internal]","errorType":"error-internal"}`)
	}
	return events.APIGatewayProxyResponse{
		StatusCode: status,
		Headers: map[string]string{
			"Content-Type":           "application/json",
			"Cache-Control":          "no-store",
			"X-Content-Type-Options": "nosniff",
		},
		Body: string(b),
	}
}

// header finds a header case-insensitively: API Gateway's HTTP APIs lower-case
// names, REST APIs keep the client's spelling.
func header(req events.APIGatewayProxyRequest, name string) string {
	for k, v := range req.Headers {
		if strings.EqualFold(k, name) {
			return v
		}
	}
	for k, v := range req.MultiValueHeaders {
		if strings.EqualFold(k, name) && len(v) > 0 {
			return v[0]
		}
	}
	return ""
}

// bodyOf returns the request body, or nil when it is oversized or not valid base64.
func bodyOf(req events.APIGatewayProxyRequest) []byte {
	if len(req.Body) > maxBody*2 {
		return nil
	}
	body := []byte(req.Body)
	if req.IsBase64Encoded {
		var err error
		if body, err = base64.StdEncoding.DecodeString(req.Body); err != nil {
			return nil
		}
	}
	if len(body) > maxBody {
		return nil
	}
	return body
}

// linkBase is where download links point: the configured public URL, or the
// API's own address as API Gateway saw it.
func (h *Handler) linkBase(req events.APIGatewayProxyRequest) string {
	if h.PublicURL != "" {
		return h.PublicURL
	}
	rc := req.RequestContext
	if rc.DomainName == "" {
		return ""
	}
	u := url.URL{Scheme: "https", Host: rc.DomainName}
	if rc.Stage != "" && strings.HasSuffix(rc.DomainName, ".amazonaws.com") {
		u.Path = "/" + rc.Stage
	}
	return u.String()
}
