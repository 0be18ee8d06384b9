package digelao

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math"
	"net/http"
	"net/url"
	"strconv"
	"strings"

	"github.com/digelao-go/digelao/internal/baseurl"
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
	sign  bodySigner // POST bodies, with each session's user_sn and api_key encoded and hashed once
	// importStatePath is 5.7.3's path (WithImportStatePath).
	importStatePath string

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
// (for example "https://ai123.example.com"); a path prefix is kept. The address is written one
// way (BaseURL: scheme and host in lower case, no default port, no trailing slash), and sessions
// in a TokenStore are kept under it, so every spelling of one address shares them. Options are
// checked here: a bad one is an error, and nothing is sent by New.
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
	if s.creds == nil {
		// Also with only a TokenStore: sessions are stored under the base URL and the account, so
		// a client without credentials could neither find one nor log in when it is refused.
		return nil, &ValidationError{Field: "credentials", Reason: "none given: pass WithPassword, WithAccessKey or WithAPIKey to New",
			sentinel: ErrInvalidCredentials}
	}
	c := &Client{
		base: base,
		http: transport.New(transport.Config{
			HTTPClient:  s.httpClient,
			Transport:   s.transport,
			Timeout:     s.timeout,
			IdleTimeout: s.idle,
			UserAgent:   s.userAgent,
			Logger:      s.logger,
			MaxBody:     s.maxBody,
		}),
		log:             s.logger,
		retry:           s.retry,
		importStatePath: s.importStatePath,
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
	if err != nil {
		return "", invalid("baseURL", "must be an absolute http or https URL") // raw may hold a password
	}
	if (u.Scheme != "http" && u.Scheme != "https") || u.Hostname() == "" {
		return "", invalid("baseURL", "must be an absolute http or https URL, got %q", u.Redacted())
	}
	if u.RawQuery != "" || u.ForceQuery || u.Fragment != "" || u.User != nil {
		return "", invalid("baseURL", "must not carry a query, fragment or user info")
	}
	return baseurl.Canonical(u), nil
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
	// codeless names the member that carries the result of an endpoint whose documented reply
	// has no code (2.1.1, 7.2, 8.1): such a reply is a success when it has that member. Every
	// other reply without a numeric code is an error.
	codeless string
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
// sends it — POST as a JSON body, GET as a query string in the same order. The reply must carry a
// numeric code; one that does not is an error matching ErrBadReply.
//
// Do never retries, since it cannot know whether an endpoint writes (the platform has GET
// endpoints that do), unless ctx comes from AllowRetry.
//
// Do is the escape hatch for endpoints the typed services do not cover yet.
func (c *Client) Do(ctx context.Context, method, path string, p *Params, out any) error {
	ep := endpoint{method: strings.ToUpper(method), path: path}
	r, err := c.call(ctx, ep, p)
	if err != nil {
		return err
	}
	return c.decodeData(ep, r, out)
}

// call validates, authenticates, signs and sends one call, renewing its session once if the
// platform rejects the api_key (20005/20006) — twice when the session it took from the TokenStore
// is rejected too: the second renewal logs in, unless the store holds yet another key. extra are
// secrets the parameters carry inside another value (a push token inside a URL).
func (c *Client) call(ctx context.Context, ep endpoint, p *Params, extra ...Secret) (*reply, error) {
	if err := ep.validate(p); err != nil {
		return nil, err
	}
	up, err := newUpload(p)
	if err != nil {
		return nil, err
	}
	cl := &callState{extra: extra, up: up}
	if ep.noAuth {
		return c.send(ctx, ep, p, nil, cl)
	}
	sess, err := c.auth.session(ctx)
	if err != nil {
		return nil, err
	}
	r, err := c.send(ctx, ep, p, sess, cl)
	for renewals := 0; renewals < 2 && err != nil && c.auth.renewable(err); renewals++ {
		if renewals == 1 && c.auth.ownLogin(sess) {
			break // the key of this client's own login is refused: another login would not do better
		}
		c.log.InfoContext(ctx, "digelao api_key rejected; renewing the session", "path", ep.path, "error", err)
		if sess, err = c.auth.renew(ctx, sess); err != nil {
			return nil, err
		}
		r, err = c.send(ctx, ep, p, sess, cl)
	}
	return r, err
}

// callState is what the attempts of one call share, its re-login included.
type callState struct {
	extra []Secret // secrets carried inside other values (a push token in a URL)
	up    *upload  // the file, for an upload
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
func (c *Client) send(ctx context.Context, ep endpoint, p *Params, sess *Session, cl *callState) (*reply, error) {
	all := p
	if sess != nil {
		all = &Params{keys: make([]string, 0, p.Len()+2), vals: make([]any, 0, p.Len()+2)}
		all.Set("user_sn", sess.UserSN).Set("api_key", sess.APIKey.Value())
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
	case cl.up != nil:
		if form, err = newMultipartForm(all, cl.up); err == nil {
			sig = form.fields[len(form.fields)-1][1]
		}
	default:
		if body, err = c.sign.signedBody(sess, p); err == nil {
			sig = string(body[len(body)-sigLen-2 : len(body)-2]) // …,"url":"<sig>"}
		}
	}
	if err != nil {
		return nil, &ValidationError{Field: "params", Reason: err.Error()}
	}
	secrets := requestSecrets(all, sig, cl.extra)
	policy := transport.Retry{}
	if (ep.read || retryAllowed(ctx)) && cl.up.rewindable() {
		policy = c.retry
	}
	resp, err := c.http.Do(ctx, policy, func() (*transport.Request, error) {
		req := &transport.Request{Method: ep.method, URL: target, Path: ep.path, Secrets: secrets}
		if ep.stream {
			req.Stream, req.IsFile = true, isFile
		}
		if body != nil {
			req.Body, req.ContentType = bytes.NewReader(body), "application/json"
		}
		if form != nil {
			return req, form.fill(req)
		}
		return req, nil
	})
	if err != nil {
		var redirect *transport.RedirectError
		if errors.As(err, &redirect) {
			return nil, &APIError{HTTPStatus: redirect.Status, Method: ep.method, Path: ep.path, Msg: redirect.Error()}
		}
		return nil, fmt.Errorf("digelao: %w", err) // the transport removed the secrets
	}
	return c.check(ep, resp, append(secrets, c.auth.seenKeys()...))
}

// sigLen is the length of the url value (see Sign).
const sigLen = 8

// requestSecrets returns what must never appear in an error or a log line about a request: its
// url value, the values of its secret parameters, and extra.
func requestSecrets(p *Params, sig string, extra []Secret) []string {
	secrets := append(make([]string, 0, 2+len(extra)), sig) // the url value and, usually, the api_key
	for i := range p.Len() {
		k := p.keys[i]
		switch k {
		case "api_key", "password", "re_password", "sign", "secret": // the login's, 2.1's and 6.9's
			if s, ok := p.vals[i].(string); ok {
				secrets = append(secrets, s)
			}
		}
	}
	for _, s := range extra {
		secrets = append(secrets, s.Value())
	}
	return secrets
}

// check turns a transport response into a reply, or into an *APIError when the platform refused
// or answered something the SDK does not understand; its error texts hold none of secrets.
func (c *Client) check(ep endpoint, resp *transport.Response, secrets []string) (*reply, error) {
	if resp.Stream != nil {
		return &reply{header: resp.Header, stream: resp.Stream}, nil
	}
	body := skipBOMs(resp.Body)
	data, apiErr := parseEnvelope(ep, resp.Status, body, secrets)
	if apiErr != nil {
		apiErr.Method, apiErr.Path = ep.method, ep.path
		return nil, apiErr
	}
	if ep.stream {
		// A well-formed success envelope is still not the file that was asked for.
		return nil, &APIError{HTTPStatus: resp.Status, Method: ep.method, Path: ep.path,
			Msg: "expected a file, got a JSON reply", Body: excerpt(body, secrets...)}
	}
	return &reply{body: body, data: data, header: resp.Header}, nil
}

// skipBOMs returns b after the UTF-8 byte order marks and whitespace it starts with: a PHP file
// saved with a BOM (as some Windows editors save them) sends it before anything it prints, one per
// file a reply passes through. PHP's own json_decode refuses it; it carries no meaning.
func skipBOMs(b []byte) []byte {
	for {
		t := bytes.TrimLeft(b, " \t\r\n")
		if !bytes.HasPrefix(t, []byte("\xef\xbb\xbf")) {
			return t
		}
		b = t[3:]
	}
}

// isFile reports whether a 2xx reply to a download is the file rather than an error: decided by
// content, since PHP sends files as text/html by default. A reply that starts like a JSON object
// (the platform's error envelope), an HTML page sent as HTML, and an empty reply are errors;
// anything else is the file.
func isFile(head []byte, h http.Header) bool {
	b := skipBOMs(head)
	switch {
	case len(b) == 0, b[0] == '{':
		return false
	case b[0] == '<':
		return !strings.HasPrefix(strings.ToLower(h.Get("Content-Type")), "text/html")
	}
	return true
}

// parseEnvelope checks a buffered reply. Success is a numeric code 0 (or 200, as 5.7.3 answers),
// or rst "200", with an HTTP status under 300; or, for an endpoint whose documented reply has no
// code, a reply with its result member and no code at all. Anything else is an *APIError: the
// platform's code, an HTTP error, or a reply the SDK does not understand (ErrBadReply).
func parseEnvelope(ep endpoint, status int, body []byte, secrets []string) (json.RawMessage, *APIError) {
	bad := func(msg string) *APIError {
		return &APIError{HTTPStatus: status, Msg: msg, Body: excerpt(body, secrets...)}
	}
	trimmed := bytes.TrimSpace(body)
	var env envelope
	switch {
	case len(trimmed) == 0:
		return nil, bad("empty reply")
	case trimmed[0] != '{' || flex.Members(trimmed, env.note(ep.codeless)) != nil:
		return nil, bad("reply is not a JSON object")
	}
	raw := env.code
	if raw == nil {
		raw = env.rst
	}
	code, ok := parseCode(raw)
	switch {
	case raw != nil && !ok:
		return nil, bad(fmt.Sprintf("reply has no usable code (%.20s)", raw))
	case raw == nil && status < 300 && env.result:
		return env.data, nil
	case raw == nil && status < 300:
		return nil, bad("reply has no code")
	case raw == nil || code == CodeOK || code == 200:
		if status < 300 {
			return env.data, nil
		}
		return nil, bad("") // an HTTP error status with a success-looking or missing code
	}
	msg, _ := flex.Text(env.msg) // the message is a courtesy: a missing one is ""
	return nil, &APIError{HTTPStatus: status, Code: code, Msg: redact(msg, secrets...)}
}

// envelope is the members of a reply the envelope check reads, by their exact names ("Code" is
// not "code"; of a repeated name the last counts, as in PHP). Each is nil when absent.
type envelope struct {
	code, rst, msg, data []byte
	result               bool // the member a codeless endpoint's reply carries its result in
}

// note returns the function that notes the members of a reply to an endpoint whose codeless
// result member is codeless ("" for none).
func (e *envelope) note(codeless string) func(string, []byte) error {
	return func(name string, v []byte) error {
		switch name {
		case "code":
			e.code = v
		case "rst":
			e.rst = v
		case "msg":
			e.msg = v
		case "data":
			e.data = v
		}
		if codeless != "" && name == codeless {
			e.result = true
		}
		return nil
	}
}

// parseCode reads a code member as PHP's $r['code'] == 0 compares it: a JSON number, or a string
// holding what PHP's is_numeric takes for a number (surrounding whitespace, a sign, a point and an
// exponent allowed: " 0", "0.0", "+0", "2e2"), whose value is a whole number within int: 0.0,
// 0e0 and "0.0" are 0, 200.0 is 200. Everything else fails closed: null and false (which PHP's
// loose == takes for 0), true, "", other text, fractions, values past int, and a number too small
// for a float64 that is not zero (1e-400, which PHP rounds to 0).
func parseCode(raw json.RawMessage) (int, bool) {
	s, err := flex.Text(raw) // a string's content; a number as written; "" for null
	s = strings.Trim(s, " \t\n\r\v\f")
	if err != nil || !phpNumeric(s) {
		return 0, false
	}
	if n, err := strconv.Atoi(s); err == nil { // exact, where a float64 would round a large code
		return n, true
	}
	f, err := strconv.ParseFloat(s, 64)
	mantissa, _, _ := strings.Cut(strings.ToLower(s), "e")
	switch {
	case err != nil, f != math.Trunc(f), f < math.MinInt64, f >= math.MaxInt64:
		return 0, false
	case f == 0 && strings.ContainsAny(mantissa, "123456789"): // rounded to 0, not 0
		return 0, false
	}
	return int(f), true
}

// phpNumeric reports whether s is a number as PHP's is_numeric reads a string, its surrounding
// whitespace removed: a sign, digits with a point among or around them, and an exponent.
func phpNumeric(s string) bool {
	digits := func(i int) int {
		for i < len(s) && s[i] >= '0' && s[i] <= '9' {
			i++
		}
		return i
	}
	i := 0
	if i < len(s) && (s[i] == '+' || s[i] == '-') {
		i++
	}
	j := digits(i)
	n := j - i // digits of the mantissa
	if j < len(s) && s[j] == '.' {
		k := digits(j + 1)
		n, j = n+k-j-1, k
	}
	if n == 0 {
		return false
	}
	if j < len(s) && (s[j] == 'e' || s[j] == 'E') {
		j++
		if j < len(s) && (s[j] == '+' || s[j] == '-') {
			j++
		}
		k := digits(j)
		if k == j {
			return false
		}
		j = k
	}
	return j == len(s)
}

// decodeData decodes the reply's "data" member into out. A member that is absent, null, or PHP's
// empty array [] where an object is expected leaves out as it is.
func (c *Client) decodeData(ep endpoint, r *reply, out any) error {
	if out == nil || isEmpty(r.data) {
		return nil
	}
	if err := json.Unmarshal(r.data, out); err != nil {
		return c.decodeErr(ep, err)
	}
	return nil
}
