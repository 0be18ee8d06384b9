package digelao

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/url"
	"strings"

	"github.com/digelao-go/digelao/internal/flex"
	"github.com/digelao-go/digelao/internal/transport"
)

// Client calls the 狄阁老 platform. It holds the three common parameters — user_sn and api_key
// (fixed, or obtained by logging in) and the base URL — and signs every request with the third,
// "url". A Client is safe for concurrent use; create one per account and share it.
type Client struct {
	base  string // base URL without a trailing slash; paths are appended to it
	http  *transport.Transport
	log   *slog.Logger
	retry retryPolicy
	auth  *authenticator

	common service // reused by every service instead of allocating one each

	Tasks     *TasksService     // 5.x task management
	Records   *RecordsService   // 6.x call records, dialogue and recordings
	Templates *TemplatesService // 7.x script templates
	Accounts  *AccountsService  // 2.1 sub-accounts (AI seats) and their roles
	CallTimes *CallTimesService // 4.x calling hours
	Customers *CustomersService // 6.7 customer pools
	Blacklist *BlacklistService // 8.x do-not-call list
}

// service is the base of every API area; each area is its own type over it (go-github style).
type service struct{ client *Client }

// New returns a client for the platform at baseURL, the address of the account's web console
// (for example "https://ai123.example.com"); a path prefix is kept. Options are checked here: a bad
// one is an error, and nothing is sent by New.
func New(baseURL string, opts ...Option) (*Client, error) {
	base, err := parseBaseURL(baseURL)
	if err != nil {
		return nil, err
	}
	s := defaultSettings()
	for _, opt := range opts {
		if opt == nil {
			return nil, invalid("options", "nil Option")
		}
		if err := opt(&s); err != nil {
			return nil, err
		}
	}
	c := &Client{
		base: base,
		http: transport.New(transport.Config{
			HTTPClient: s.httpClient,
			Transport:  s.transport,
			Timeout:    s.timeout,
			UserAgent:  s.userAgent,
			Logger:     s.logger,
			MaxBody:    s.maxBody,
		}),
		log:   s.logger,
		retry: s.retry,
	}
	c.auth = newAuthenticator(c, &s)
	c.common.client = c
	c.Tasks = (*TasksService)(&c.common)
	c.Records = (*RecordsService)(&c.common)
	c.Templates = (*TemplatesService)(&c.common)
	c.Accounts = (*AccountsService)(&c.common)
	c.CallTimes = (*CallTimesService)(&c.common)
	c.Customers = (*CustomersService)(&c.common)
	c.Blacklist = (*BlacklistService)(&c.common)
	return c, nil
}

func parseBaseURL(raw string) (string, error) {
	u, err := url.Parse(strings.TrimSpace(raw))
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return "", invalid("baseURL", "must be an absolute http or https URL, got %q", raw)
	}
	if u.RawQuery != "" || u.Fragment != "" || u.User != nil {
		return "", invalid("baseURL", "must not carry a query, fragment or user info")
	}
	return strings.TrimRight(u.String(), "/"), nil
}

// BaseURL returns the platform address the client calls.
func (c *Client) BaseURL() string { return c.base }

// CloseIdleConnections closes the client's idle keep-alive connections. A Client needs no
// closing; call this when you drop one and want its connections gone at once (as in leak checks).
func (c *Client) CloseIdleConnections() { c.http.CloseIdleConnections() }

// endpoint describes one platform call.
type endpoint struct {
	method string // http.MethodGet or http.MethodPost
	path   string // e.g. "/api/setCallback"
	read   bool   // safe to repeat: retried on connection errors, 429 and 5xx
	stream bool   // the reply is a file handed to the caller
	noAuth bool   // the login calls: no user_sn/api_key
}

// writesOnGet reports whether path is one of the platform's GET endpoints that change something.
func writesOnGet(path string) bool {
	return path == addPrivateEndpoint.path || path == addPublicEndpoint.path
}

// reply is a platform answer that passed the envelope check.
type reply struct {
	body   []byte          // the whole reply, when buffered
	data   json.RawMessage // the envelope's "data" member, if any
	header http.Header
	stream io.ReadCloser // the file, for stream endpoints; the caller closes it
}

// Do calls any platform endpoint with params p, and decodes the reply's "data" member into out
// (when out is non-nil). It puts user_sn and api_key first, then p in order, signs the request and
// sends it — POST as a JSON body, GET as a query string in the same order. GET calls are retried on
// connection errors, 429 and 5xx; POST calls are not, since a POST may create or change something,
// unless ctx comes from AllowRetry. Neither are the GET calls the SDK knows to write (the 6.7.1 and
// 6.7.2 customer imports).
//
// Do is the escape hatch for endpoints the typed services do not cover yet.
func (c *Client) Do(ctx context.Context, method, path string, p *Params, out any) error {
	get := strings.EqualFold(method, http.MethodGet)
	ep := endpoint{method: strings.ToUpper(method), path: path, read: get && !writesOnGet(path)}
	r, err := c.call(ctx, ep, p)
	if err != nil {
		return err
	}
	return r.decodeData(ep, out)
}

// call validates, authenticates, signs and sends one call, logging in again once if the
// platform rejects the api_key (20005/20006).
func (c *Client) call(ctx context.Context, ep endpoint, p *Params) (*reply, error) {
	if err := ep.validate(p); err != nil {
		return nil, err
	}
	if ep.noAuth {
		return c.send(ctx, ep, p, nil)
	}
	sess, err := c.auth.session(ctx)
	if err != nil {
		return nil, err
	}
	r, err := c.send(ctx, ep, p, sess)
	if err == nil || !c.auth.renewable(err) {
		return r, err
	}
	c.log.InfoContext(ctx, "digelao api_key rejected; logging in again", "path", ep.path, "error", err)
	if sess, err = c.auth.renew(ctx, sess); err != nil {
		return nil, err
	}
	return c.send(ctx, ep, p, sess)
}

func (ep endpoint) validate(p *Params) error {
	if ep.method != http.MethodGet && ep.method != http.MethodPost {
		return invalid("method", "the platform takes GET or POST, got %q", ep.method)
	}
	if !strings.HasPrefix(ep.path, "/") || strings.ContainsAny(ep.path, "?#") {
		return invalid("path", "must start with / and carry no query, got %q", ep.path)
	}
	if p == nil {
		return nil
	}
	for _, k := range p.keys {
		if k == "url" || (!ep.noAuth && (k == "user_sn" || k == "api_key")) {
			return invalid(k, "is added by the client; do not set it")
		}
	}
	return nil
}

// send signs and sends one call with sess's common parameters (none when sess is nil), and checks
// the reply's envelope.
func (c *Client) send(ctx context.Context, ep endpoint, p *Params, sess *Session) (*reply, error) {
	all := p
	if sess != nil {
		all = &Params{keys: make([]string, 0, p.Len()+2), vals: make([]any, 0, p.Len()+2)}
		all.Set("user_sn", sess.UserSN).Set("api_key", sess.APIKey)
		if p != nil {
			all.keys = append(all.keys, p.keys...)
			all.vals = append(all.vals, p.vals...)
		}
	}
	// Encode once: every attempt resends the same signed bytes. A *File makes a multipart upload
	// (upload.go), streamed for each attempt.
	var body []byte
	var form *multipartForm
	var sig string // the url value, which the encoders put last
	target := c.base + ep.path
	var err error
	switch {
	case ep.method == http.MethodGet:
		var q string
		if q, err = signedQuery(all); err == nil {
			target, sig = target+"?"+q, q[len(q)-sigLen:] // …&url=<sig>
		}
	case hasFile(all):
		if form, err = newMultipartForm(all); err == nil {
			sig = form.fields[len(form.fields)-1][1]
		}
	default:
		if body, err = signedBody(all); err == nil {
			sig = string(body[len(body)-sigLen-2 : len(body)-2]) // …,"url":"<sig>"}
		}
	}
	if err != nil {
		return nil, &ValidationError{Field: "params", Reason: err.Error()}
	}
	secrets := requestSecrets(all, sig)
	policy := transport.Retry{}
	if (ep.read || retryAllowed(ctx)) && form.rewindable() {
		policy = c.retry
	}
	resp, err := c.http.Do(ctx, policy, func() (*transport.Request, error) {
		req := &transport.Request{Method: ep.method, URL: target, Path: ep.path, Stream: ep.stream, Secrets: secrets}
		if body != nil {
			req.Body, req.ContentType = bytes.NewReader(body), "application/json"
		}
		if form != nil {
			return req, form.fill(req)
		}
		return req, nil
	})
	if err != nil {
		return nil, fmt.Errorf("digelao: %w", err) // the transport removed the secrets
	}
	return c.check(ep, resp, secrets)
}

// sigLen is the length of the url value (see Sign).
const sigLen = 8

// requestSecrets returns what must never appear in an error or a log line about a request: its
// url value and the values of its secret parameters.
func requestSecrets(p *Params, sig string) []string {
	secrets := append(make([]string, 0, 2), sig) // the url value and, usually, the api_key
	for i := range p.Len() {
		k := p.keys[i]
		switch k {
		case "api_key", "password", "re_password", "sign", "secret": // the login's, 2.1's and 6.9's
			if s, ok := p.vals[i].(string); ok {
				secrets = append(secrets, s)
			}
		}
	}
	return secrets
}

// check turns a transport response into a reply, or into an *APIError when the platform refused;
// its error texts hold none of secrets.
func (c *Client) check(ep endpoint, resp *transport.Response, secrets []string) (*reply, error) {
	if resp.Stream != nil {
		if isFile(resp.Header) {
			return &reply{header: resp.Header, stream: resp.Stream}, nil
		}
		// An error page or JSON envelope where a file was expected.
		b, err := io.ReadAll(io.LimitReader(resp.Stream, maxEnvelope))
		_ = resp.Stream.Close() // read-only: a close error changes nothing
		if err != nil {
			return nil, fmt.Errorf("digelao: %s %s: reading reply: %w", ep.method, ep.path, err)
		}
		resp.Body = b
	}
	data, apiErr := parseEnvelope(resp.Status, resp.Body, secrets)
	if apiErr != nil {
		apiErr.Method, apiErr.Path = ep.method, ep.path
		return nil, apiErr
	}
	if ep.stream {
		// A well-formed success envelope is still not the file that was asked for.
		return nil, &APIError{HTTPStatus: resp.Status, Method: ep.method, Path: ep.path,
			Msg: "expected a file, got a JSON reply", Body: excerpt(resp.Body, secrets...)}
	}
	return &reply{body: resp.Body, data: data, header: resp.Header}, nil
}

// maxEnvelope bounds how much of a non-file reply to a download is read.
const maxEnvelope = 64 << 10

// isFile reports whether a reply is a file rather than an error page or a JSON envelope.
func isFile(h http.Header) bool {
	ct := strings.ToLower(h.Get("Content-Type"))
	switch {
	case ct == "":
		return true // servers often send audio with no type; a JSON error always has one
	case strings.HasPrefix(ct, "application/json"), strings.HasPrefix(ct, "text/"):
		return false
	}
	return true
}

// envelope is the platform's usual reply shape; every member is optional.
type envelope struct {
	Code *flex.Int       `json:"code"`
	Rst  *flex.Int       `json:"rst"`
	Msg  flex.String     `json:"msg"`
	Data json.RawMessage `json:"data"`
}

// parseEnvelope checks a buffered reply. Success is code 0 (or 200, as 5.7.3 answers), rst "200",
// or — for the list endpoints that answer {"total":…,"data":[…]} — no code at all.
func parseEnvelope(status int, body []byte, secrets []string) (json.RawMessage, *APIError) {
	var env envelope
	trimmed := bytes.TrimSpace(body)
	if len(trimmed) == 0 || trimmed[0] != '{' || json.Unmarshal(trimmed, &env) != nil {
		msg := "reply is not a JSON object"
		if len(trimmed) == 0 {
			msg = "empty reply"
		}
		return nil, &APIError{HTTPStatus: status, Msg: msg, Body: excerpt(body, secrets...)}
	}
	code := env.Code
	if code == nil {
		code = env.Rst
	}
	ok := code == nil || *code == CodeOK || *code == 200
	if ok && status < 300 {
		return env.Data, nil
	}
	e := &APIError{HTTPStatus: status, Msg: redact(string(env.Msg), secrets...)}
	if ok { // an HTTP error status with a success-looking or missing code
		e.Body = excerpt(body, secrets...)
	} else {
		e.Code = int(*code)
	}
	return nil, e
}

// decodeData decodes the reply's "data" member into out.
func (r *reply) decodeData(ep endpoint, out any) error {
	if out == nil || len(r.data) == 0 || string(r.data) == "null" {
		return nil
	}
	if err := json.Unmarshal(r.data, out); err != nil {
		return &APIError{HTTPStatus: http.StatusOK, Method: ep.method, Path: ep.path,
			Msg: "cannot decode data: " + err.Error()}
	}
	return nil
}
