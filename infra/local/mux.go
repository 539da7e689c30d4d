package main

import (
	"io"
	"net"
	"net/http"
	"strings"

	"github.com/aws/aws-lambda-go/events"

	"github.com/rooms-export/rooms-export/shared/export"
	"github.com/rooms-export/rooms-export/shared/gateway"
)

// maxBody bounds what the local server reads of a request body.
const maxBody = 1 << 20

// NewMux routes /api/ to the Lambda handler through proxy events and
// /files/ to the local file store's signed URLs.
func NewMux(h *gateway.Handler, files http.Handler) *http.ServeMux {
	mux := http.NewServeMux()
	mux.Handle("/files/", files)
	mux.HandleFunc("/api/", func(w http.ResponseWriter, r *http.Request) {
		ev, err := ToEvent(r)
		if err != nil {
			http.Error(w, "bad request", http.StatusBadRequest)
			return
		}
		resp, _ := h.Handle(r.Context(), ev)
		WriteResponse(w, resp)
	})
	return mux
}

// ToEvent turns an HTTP request into the REST API proxy event API Gateway
// would deliver for it, so the local server exercises the production path.
func ToEvent(r *http.Request) (events.APIGatewayProxyRequest, error) {
	body, err := io.ReadAll(io.LimitReader(r.Body, maxBody))
	if err != nil {
		return events.APIGatewayProxyRequest{}, err
	}
	ev := events.APIGatewayProxyRequest{
		Resource:                        r.URL.Path,
		Path:                            r.URL.Path,
		HTTPMethod:                      r.Method,
		Headers:                         map[string]string{},
		MultiValueHeaders:               map[string][]string{},
		QueryStringParameters:           map[string]string{},
		MultiValueQueryStringParameters: map[string][]string{},
		Body:                            string(body),
		RequestContext: events.APIGatewayProxyRequestContext{
			RequestID:  export.RandomID(12),
			Stage:      "local",
			DomainName: r.Host,
			HTTPMethod: r.Method,
			Path:       r.URL.Path,
			Identity:   events.APIGatewayRequestIdentity{SourceIP: sourceIP(r.RemoteAddr)},
		},
	}
	for k, v := range r.Header {
		ev.Headers[k] = strings.Join(v, ",")
		ev.MultiValueHeaders[k] = v
	}
	for k, v := range r.URL.Query() {
		ev.QueryStringParameters[k] = v[0]
		ev.MultiValueQueryStringParameters[k] = v
	}
	return ev, nil
}

// WriteResponse writes a proxy response as API Gateway would.
func WriteResponse(w http.ResponseWriter, resp events.APIGatewayProxyResponse) {
	for k, v := range resp.Headers {
		w.Header().Set(k, v)
	}
	for k, vs := range resp.MultiValueHeaders {
		for _, v := range vs {
			w.Header().Add(k, v)
		}
	}
	w.WriteHeader(resp.StatusCode)
	io.WriteString(w, resp.Body)
}

func sourceIP(remote string) string {
	host, _, err := net.SplitHostPort(remote)
	if err != nil {
		return remote
	}
	return host
}
