package digelaotest

import (
	"context"
	"crypto/md5" //nolint:gosec // the platform's checks are md5 by definition
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"mime"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"time"

	"github.com/digelao-go/digelao"
	"github.com/digelao-go/digelao/internal/phpform"
)

// Server is an in-process fake of the 狄阁老 platform on a loopback HTTP server. It checks
// requests the way the PHP platform does, keeps tasks and call records per account, simulates
// imports and dialling on a scaled clock, and pushes results to the account's callback URLs.
//
// Create one with NewServer and stop it with Close. All methods are safe for concurrent use.
type Server struct {
	// URL is the base URL to give digelao.New, e.g. "http://127.0.0.1:38123".
	URL string

	cfg       config
	hs        *httptest.Server
	hc        *http.Client
	ownHC     *http.Transport // the default push transport, closed by Close
	ctx       context.Context // cancelled by Close
	cancel    context.CancelFunc
	wg        sync.WaitGroup // the runner and every push in flight
	routes    map[string]route
	pushSlots chan struct{}
	closeOnce sync.Once

	mu        sync.Mutex
	rng       *rand.Rand
	snSeq     uint64
	tenants   []*tenant
	byUserSN  map[string]*tenant
	templates []*Template
	ids       struct{ task, record, blacklist, customer, seat int64 }
	requests  []Request
	dropped   int // requests dropped from the front of the log
	logins    []Login
	pushes    []Push
	faults    []*Fault
	sched     scheduler
}

// NewServer is New for tests: it panics on an invalid option, as httptest does when it cannot
// start. Programs (a mock command) use New.
func NewServer(opts ...Option) *Server {
	s, err := New(opts...)
	if err != nil {
		panic(err)
	}
	return s
}

// New starts a fake platform. It serves the default account (Username, Password, AccessID,
// AccessSecret) and any added with WithAccount. Call Close when done. Its HTTP server bounds how
// long a client may hold a connection (read, write and idle timeouts), as a deployed one does.
func New(opts ...Option) (*Server, error) {
	cfg := defaultConfig()
	for _, opt := range opts {
		if opt == nil {
			return nil, check(false, "nil Option")
		}
		if err := opt(&cfg); err != nil {
			return nil, err
		}
	}
	ctx, cancel := context.WithCancel(context.Background())
	s := &Server{
		cfg: cfg, ctx: ctx, cancel: cancel, hc: cfg.hc, pushSlots: make(chan struct{}, 8),
		rng:      rand.New(rand.NewPCG(cfg.seed, cfg.seed^0x9e3779b97f4a7c15)), //nolint:gosec // seeded on purpose: reproducible
		byUserSN: map[string]*tenant{},
	}
	if s.hc == nil {
		// A transport of its own (not a clone of http.DefaultTransport, which tests may replace),
		// without a proxy: pushes go straight to the receiver.
		s.ownHC = &http.Transport{MaxIdleConnsPerHost: cap(s.pushSlots), IdleConnTimeout: 30 * time.Second}
		s.hc = &http.Client{Transport: s.ownHC, Timeout: 10 * time.Second}
	}
	for i := range cfg.templates {
		t := cfg.templates[i]
		t.Columns = append([]string(nil), t.Columns...)
		s.templates = append(s.templates, &t)
	}
	for _, a := range cfg.accounts {
		if err := s.addTenant(a); err != nil {
			cancel()
			return nil, err
		}
	}
	s.routes = s.routeTable()
	s.sched.init(cfg.manual)

	s.hs = httptest.NewUnstartedServer(http.HandlerFunc(s.serve))
	if cfg.listener != nil {
		_ = s.hs.Listener.Close()
		s.hs.Listener = cfg.listener
	}
	hs := s.hs.Config
	hs.ReadHeaderTimeout, hs.ReadTimeout, hs.WriteTimeout, hs.IdleTimeout = 10*time.Second, time.Minute, 5*time.Minute, 2*time.Minute
	s.hs.Start()
	s.URL = s.hs.URL
	s.wg.Add(1)
	go s.run()
	return s, nil
}

// Close stops the server: it aborts pushes in flight and waits for every goroutine the Server
// started to return. Close is idempotent.
func (s *Server) Close() {
	s.closeOnce.Do(func() {
		s.mu.Lock()
		s.sched.closed = true
		s.mu.Unlock()
		s.cancel()
		s.hs.Close()
		s.wg.Wait()
		if s.ownHC != nil {
			s.ownHC.CloseIdleConnections()
		}
	})
}

// Client returns an SDK client for the default account, logging in with Username and Password.
// opts are added after that; they must not set other credentials.
func (s *Server) Client(opts ...digelao.Option) (*digelao.Client, error) {
	return digelao.New(s.URL, append([]digelao.Option{digelao.WithPassword(Username, Password)}, opts...)...)
}

// route is one platform endpoint.
type route struct {
	methods string // the HTTP methods it takes, space separated
	open    bool   // no user_sn/api_key check: login, and 6.9, which checks a secret of its own
	noURL   bool   // no url check: login [inferred: its page lists no url]
	h       func(*call) (any, error)
}

func (s *Server) routeTable() map[string]route {
	post, get, both := "POST", "GET", "GET POST"
	r := map[string]route{
		"/api/login":                     {methods: post, open: true, noURL: true, h: s.login},
		"/api/setCallback":               {methods: both, h: s.setCallback},
		"/api/index":                     {methods: post, h: s.taskList},
		"/api/operateTask":               {methods: post, h: s.operateTask},
		"/api/cancelCall":                {methods: post, h: s.cancelCall},
		"/api/cancelCallCallee":          {methods: post, h: s.cancelCallCallee},
		"/api/getDetailsList":            {methods: post, h: s.detailsList},
		"/api/failRecall":                {methods: post, h: s.failRecall},
		"/api/addJson":                   {methods: post, h: s.addJSON},
		"/api/addJsonOfAsync":            {methods: post, h: s.addJSONAsync},
		"/api/addExcelOfAsync":           {methods: post, h: s.addExcelAsync},
		"/api/getImportTaskInfo":         {methods: post, h: s.importTaskInfo},
		"/api/addBatch":                  {methods: post, h: s.addBatch},
		"/api/taskBatchImportStatus":     {methods: post, h: s.batchStatus},
		"/api/exportModel":               {methods: both, h: s.exportModel},
		"/api/crmList":                   {methods: post, h: s.crmList},
		"/api/cdrshow":                   {methods: post, h: s.cdrShow},
		"/api/cdrDownload":               {methods: get, h: s.cdrDownload},
		"/api/cdrFragmentDownload":       {methods: get, h: s.cdrFragmentDownload},
		"/api/multiServerCdrDownload":    {methods: get, open: true, h: s.multiServerCdrDownload},
		"/api/templatelist":              {methods: post, h: s.templateList},
		"/api/templatedata":              {methods: post, h: s.templateData},
		"/api/getProjects":               {methods: post, h: s.projects},
		"/api/aiUserDatasapi":            {methods: post, h: s.seatList},
		"/api/aiUserSaveapi":             {methods: post, h: s.seatSave},
		"/api/aiUserUpdateapi":           {methods: post, h: s.seatUpdate},
		"/api/aiUserDeleteapi":           {methods: post, h: s.seatDelete},
		"/api/roleGetapi":                {methods: post, h: s.roles},
		"/api/callTimeList":              {methods: post, h: s.callTimeList},
		"/api/timeSave":                  {methods: post, h: s.timeSave},
		"/api/addCustomerJson":           {methods: get, h: s.addCustomerJSON},
		"/api/addPublicCustomerJson":     {methods: get, h: s.addPublicCustomerJSON},
		"/api/importPublicCustomerExcle": {methods: post, h: s.importPublicCustomerExcel},
		"/api/customerList":              {methods: get, h: s.customerList},
		"/api/BlackListListsDataapi":     {methods: post, h: s.blacklistList},
		"/api/BlackListDelete":           {methods: post, h: s.blacklistDelete},
		"/api/downloadBlacklistapi":      {methods: get, h: s.blacklistDownload},
		"/api/importsExcelapi":           {methods: post, h: s.blacklistImport},
	}
	if s.cfg.importPath != "" {
		r[s.cfg.importPath] = route{methods: post, h: s.importResult}
	}
	return r
}

// call is one request on its way through a handler.
type call struct {
	r      *http.Request
	p      *array            // the parameters PHP would see, url removed
	files  map[string]upload // uploaded files by field name
	url    string            // the url parameter received
	signed []byte            // p re-encoded as PHP does; empty where PHP's json_encode fails
	t      *tenant           // the authenticated account; nil on open routes
	now    time.Time
}

// upload is one uploaded file.
type upload struct {
	name string
	data []byte
}

// file is a download reply.
type file struct {
	name, contentType string
	data              []byte
}

// apiError is a platform error reply.
type apiError struct {
	code int
	msg  string
}

func (e *apiError) Error() string { return fmt.Sprintf("code %d: %s", e.code, e.msg) }

// fail returns the error reply for code with its documented message.
func fail(code int) error { return &apiError{code: code, msg: codeMsg(code)} }

// CodeTaskLimit is the code the fake answers when an account creates its 101st task of the day.
// The platform's limit ("新建外呼任务每天有限量100次调用") is documented; its code is not — the
// error table is cut off after 30006 — so this value is the fake's own.
const CodeTaskLimit = 30007

// codeMsg returns the message of a code as REFERENCE §2 lists it.
func codeMsg(code int) string {
	switch code {
	case digelao.CodeOK:
		return "请求处理成功"
	case digelao.CodeSignature, digelao.CodeSignatureAlt:
		return "url验证失败"
	case digelao.CodeTransportMethod:
		return "数据传输方式错误"
	case digelao.CodeBadData:
		return "数据格式错误"
	case digelao.CodeClientType:
		return "客户端类型不存在"
	case digelao.CodeInvalidCredential:
		return "用户名或者密码错误"
	case digelao.CodeAPIKeyInvalid:
		return "api_key验证失败"
	case digelao.CodeAPIKeyExpired:
		return "api_key已过期"
	case digelao.CodePermission:
		return "没有接口访问权限"
	case digelao.CodeImportEmpty:
		return "导入文件为空"
	case digelao.CodeImportFormat:
		return "导入文件格式错误,只支持xlsx、xls"
	case digelao.CodeImportNoTemplate:
		return "导入失败,模板为空"
	case digelao.CodeImportPending:
		return "待呼叫数据过多,最多不能超过30万条"
	case digelao.CodeImportTooMany:
		return "数据过多,最多只能导入3万条"
	case digelao.CodeImportNoData:
		return "数据为空或者json格式错误"
	case CodeTaskLimit:
		return "新建外呼任务每天有限量100次调用"
	}
	return ""
}

// maxRequestBody bounds a request body.
const maxRequestBody = 64 << 20

// Now returns the fake platform's clock: WithClock's time, or the simulated time — which runs ahead
// of it at WithTimeScale's pace from the latest call or push that ran — whichever is later; it never
// goes back. With WithManualTime it is WithClock's time alone, since Flush runs a whole future at
// once: a test moves the clock (Clock.Set) past what it flushed. Every reply carries it as its
// Date header, as a platform's replies carry the platform's clock, and a digelao.RecordSync sweeps
// by it.
func (s *Server) Now() time.Time {
	now := s.cfg.now()
	if s.cfg.manual {
		return now
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if !s.sched.now.IsZero() {
		if sim := s.sched.now.Add(s.simTime(time.Since(s.sched.ranAt))); sim.After(now) {
			now = sim
		}
	}
	if now.Before(s.sched.dated) {
		now = s.sched.dated
	}
	s.sched.dated = now
	return now
}

func (s *Server) serve(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Date", s.Now().UTC().Format(http.TimeFormat))
	c := &call{r: r, now: s.cfg.now()}
	p, files, perr := readParams(w, r)
	c.p, c.files = p, files
	var params []Param
	if perr == nil {
		for i, k := range p.keys {
			params = append(params, Param{Key: k, Value: paramText(p.vals[i])})
		}
	}
	if v, ok := p.get("url"); ok {
		c.url, _ = v.(string) // PHP compares with !==: only a string can match
		p.del("url")
	}
	if b, err := encodePHP(p); err == nil {
		c.signed = b
	}
	n := s.logRequest(c, params)
	if hit, code, status := s.fault(w, r); hit {
		s.finishRequest(n, code, status)
		return
	}
	rt, ok := s.routes[r.URL.Path]
	if !ok {
		http.NotFound(w, r)
		s.finishRequest(n, -1, http.StatusNotFound)
		return
	}
	v, err := s.handle(c, rt, perr)
	code, status := s.write(w, v, err)
	s.finishRequest(n, code, status)
	s.cfg.log.Debug("digelaotest request", "method", r.Method, "path", r.URL.Path, "code", code, "status", status)
}

// handle runs the platform's checks in order — method, body, url, api_key — then the endpoint.
func (s *Server) handle(c *call, rt route, perr error) (any, error) {
	if !strings.Contains(" "+rt.methods+" ", " "+c.r.Method+" ") {
		return nil, fail(digelao.CodeTransportMethod)
	}
	if perr != nil {
		return nil, perr
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if !rt.noURL {
		if err := s.checkURL(c); err != nil {
			return nil, err
		}
	}
	if !rt.open {
		if err := s.authenticate(c); err != nil {
			return nil, err
		}
	}
	return rt.h(c)
}

// checkURL is the platform's anti-hijack check (REFERENCE §1.3): md5 of the parameters, url
// removed, re-encoded by json_encode; characters 2–9 must equal url. Where json_encode fails
// (invalid UTF-8 in a form value, a JSON 1e400 that decodes to INF) it returns false, which md5
// reads as "" [inferred: the platform hashes json_encode's result unchecked, as the PHP the mock
// was compared with did].
func (s *Server) checkURL(c *call) error {
	if !s.cfg.urlCheck {
		return nil
	}
	if c.url != md5Slice(string(c.signed)) {
		return fail(digelao.CodeSignature)
	}
	return nil
}

// md5Slice returns characters 2–9 of the lowercase hex md5 of s, the platform's 8-character check.
func md5Slice(s string) string { return md5Hex(s)[1:9] }

func md5Hex(s string) string {
	sum := md5.Sum([]byte(s)) //nolint:gosec // see import
	return hex.EncodeToString(sum[:])
}

// readParams decodes the request's parameters as PHP sees them: $_GET for GET, $_POST for form
// and multipart bodies (files aside), json_decode of the body for JSON. A POST of any other
// Content-Type, or none, has no parameters: PHP fills $_POST only from the two form types, and the
// platform decodes the body as JSON only when the request says it is JSON — a Content-Type that
// contains "json" (application/json, text/json, application/vnd.api+json), as PHP frameworks test
// it [inferred: a JSON body sent as text/plain or without a Content-Type is answered 10001 by the
// PHP the mock was compared with], so its url check fails.
func readParams(w http.ResponseWriter, r *http.Request) (*array, map[string]upload, error) {
	if r.Method == http.MethodGet || r.Method == http.MethodHead {
		f, _ := phpform.ParseStr(r.URL.RawQuery)
		return fromForm(f), nil, nil
	}
	r.Body = http.MaxBytesReader(w, r.Body, maxRequestBody)
	switch media := mediaType(r.Header.Get("Content-Type")); {
	case media == "application/x-www-form-urlencoded":
		b, err := io.ReadAll(r.Body)
		if err != nil {
			return &array{}, nil, fail(digelao.CodeBadData)
		}
		f, _ := phpform.ParsePost(string(b))
		return fromForm(f), nil, nil
	case media == "multipart/form-data":
		_, ctParams, _ := mime.ParseMediaType(r.Header.Get("Content-Type"))
		f := &phpform.Array{}
		files, err := readMultipart(f, r, ctParams["boundary"])
		return fromForm(f), files, err
	case strings.Contains(media, "json"):
		b, err := io.ReadAll(r.Body)
		if err != nil {
			return &array{}, nil, fail(digelao.CodeBadData)
		}
		v, err := decodeJSON(b)
		if a, ok := v.(*array); ok && err == nil {
			return a, nil, nil
		}
		return &array{}, nil, fail(digelao.CodeBadData)
	}
	return &array{}, nil, nil
}

// mediaType is a Content-Type as PHP matches it: lowercased, up to the first ';', ',' or ' '.
func mediaType(ct string) string {
	if i := strings.IndexAny(ct, ";, "); i >= 0 {
		ct = ct[:i]
	}
	return strings.ToLower(ct)
}

// readMultipart adds the non-file fields of a multipart body to p in order and returns the files,
// with PHP's limits: max_input_vars fields, max_file_uploads files, and nothing after
// max_multipart_body_parts parts (by default the sum of the two).
func readMultipart(p *phpform.Array, r *http.Request, boundary string) (map[string]upload, error) {
	if boundary == "" {
		return nil, fail(digelao.CodeBadData)
	}
	files := map[string]upload{}
	var parts, fields, uploads int
	for part, err := range phpform.Parts(r.Body, boundary) {
		if err != nil {
			return files, fail(digelao.CodeBadData)
		}
		if parts++; parts > phpform.MaxInputVars+maxFileUploads {
			return files, nil
		}
		if part.File {
			if uploads++; uploads <= maxFileUploads {
				files[part.Name] = upload{name: part.FileName, data: part.Data}
			}
			continue
		}
		if fields++; fields <= phpform.MaxInputVars {
			p.Set(part.Name, string(part.Data))
		}
	}
	return files, nil
}

// write sends v (an *array, a *file) or err, and returns the reply's code and HTTP status.
func (s *Server) write(w http.ResponseWriter, v any, err error) (int, int) {
	var ae *apiError
	var he *httpError
	switch {
	case errors.As(err, &ae):
		v = obj("code", ae.code, "msg", ae.msg)
	case errors.As(err, &he):
		http.Error(w, he.body, he.status)
		return -1, he.status
	case err != nil:
		http.Error(w, err.Error(), http.StatusInternalServerError)
		return -1, http.StatusInternalServerError
	}
	switch v := v.(type) {
	case *file:
		w.Header().Set("Content-Type", v.contentType)
		w.Header().Set("Content-Disposition", mime.FormatMediaType("attachment", map[string]string{"filename": v.name}))
		w.WriteHeader(http.StatusOK)
		_, _ = w.Write(v.data)
		return -1, http.StatusOK
	case *array:
		b, err := encodePHP(v)
		if err != nil {
			http.Error(w, err.Error(), http.StatusInternalServerError)
			return -1, http.StatusInternalServerError
		}
		w.Header().Set("Content-Type", "application/json; charset=utf-8")
		_, _ = w.Write(b)
		code := 0
		if c, ok := v.get("code"); ok {
			code, _ = c.(int)
		}
		return code, http.StatusOK
	}
	http.Error(w, "no reply", http.StatusInternalServerError)
	return -1, http.StatusInternalServerError
}

// Request is one request as the fake received it.
type Request struct {
	Time   time.Time // the fake's clock on arrival
	Method string
	Path   string
	Params []Param // as PHP decoded them, in order, url included
	URL    string  // the anti-hijack "url" received; "" when absent or not a string
	Signed string  // what the url is checked against: Params without url as json_encode writes them, or "" where it fails
	Files  []string
	Code   int // the reply's code; -1 for a download, a 404 or an injected fault
	Status int // the reply's HTTP status; 0 for a dropped connection
}

// Param is one top-level request parameter: a scalar as PHP's (string) cast reads it (a JSON 1.0
// is "1"), or an array as PHP JSON.
type Param struct {
	Key   string
	Value string
}

// Get returns the value of the parameter key.
func (r Request) Get(key string) (string, bool) {
	for _, p := range r.Params {
		if p.Key == key {
			return p.Value, true
		}
	}
	return "", false
}

func (s *Server) logRequest(c *call, params []Param) int {
	req := Request{Time: c.now, Method: c.r.Method, Path: c.r.URL.Path, Params: params, URL: c.url, Signed: string(c.signed)}
	for name := range c.files {
		req.Files = append(req.Files, name)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if len(s.requests) >= maxRequestLog {
		half := maxRequestLog / 2
		s.requests = append(s.requests[:0], s.requests[half:]...)
		s.dropped += half
	}
	s.requests = append(s.requests, req)
	return s.dropped + len(s.requests) - 1
}

// maxRequestLog bounds the request log of a long-running Server; the oldest half goes first.
const maxRequestLog = 20000

func paramText(v any) string {
	if a, ok := v.(*array); ok {
		b, _ := encodePHP(a)
		return string(b)
	}
	return scalarText(v)
}

func (s *Server) finishRequest(n, code, status int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if i := n - s.dropped; i >= 0 {
		s.requests[i].Code, s.requests[i].Status = code, status
	}
}

// Requests returns the requests received so far, oldest first (at most the latest 20,000).
func (s *Server) Requests() []Request {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]Request(nil), s.requests...)
}

// Fault makes the fake misbehave on matching requests, before any check of its own. A fault with
// neither Code, Status nor Drop only delays.
type Fault struct {
	Path   string        // only requests to this path; "" matches every path
	Times  int           // how many requests it hits; 0 means every one until ClearFaults
	Delay  time.Duration // wait this long (real time) first
	Code   int           // reply {"code":Code,"msg":…} with HTTP 200, as the platform does
	Msg    string        // msg for Code; default the documented one
	Status int           // reply this HTTP status instead
	Body   string        // body for Status; default the status text
	Drop   bool          // close the connection without a reply
}

// Inject adds a fault. Faults apply in the order added; each request takes the first that matches.
func (s *Server) Inject(f Fault) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.faults = append(s.faults, &f)
}

// FailNext makes the next n requests (to any path, login included) fail with the platform error
// code; n < 1 does nothing.
func (s *Server) FailNext(n, code int) {
	if n > 0 {
		s.Inject(Fault{Times: n, Code: code})
	}
}

// FailNextHTTP makes the next n requests (to any path) fail with HTTP status; n < 1 does nothing.
func (s *Server) FailNextHTTP(n, status int) {
	if n > 0 {
		s.Inject(Fault{Times: n, Status: status})
	}
}

// ClearFaults removes every fault.
func (s *Server) ClearFaults() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.faults = nil
}

// fault applies the first fault matching r and reports whether it answered the request, and with
// what code and status.
func (s *Server) fault(w http.ResponseWriter, r *http.Request) (bool, int, int) {
	s.mu.Lock()
	var f Fault
	found := false
	for i, ff := range s.faults {
		if ff.Path != "" && ff.Path != r.URL.Path {
			continue
		}
		f, found = *ff, true
		if ff.Times > 0 {
			if ff.Times--; ff.Times == 0 {
				s.faults = append(s.faults[:i], s.faults[i+1:]...)
			}
		}
		break
	}
	s.mu.Unlock()
	if !found {
		return false, 0, 0
	}
	if f.Delay > 0 {
		t := time.NewTimer(f.Delay)
		defer t.Stop()
		select {
		case <-t.C:
		case <-r.Context().Done():
			return true, -1, 0
		case <-s.ctx.Done():
			return true, -1, 0
		}
	}
	switch {
	case f.Drop:
		if hj, ok := w.(http.Hijacker); ok {
			if conn, _, err := hj.Hijack(); err == nil {
				_ = conn.Close()
				return true, -1, 0
			}
		}
		panic(http.ErrAbortHandler)
	case f.Status != 0:
		body := f.Body
		if body == "" {
			body = http.StatusText(f.Status)
		}
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		w.WriteHeader(f.Status)
		_, _ = io.WriteString(w, body)
		return true, -1, f.Status
	case f.Code != 0:
		msg := f.Msg
		if msg == "" {
			msg = codeMsg(f.Code)
		}
		code, status := s.write(w, nil, &apiError{code: f.Code, msg: msg})
		return true, code, status
	}
	return false, 0, 0
}

// sn returns a new platform sn "prefix|<32 hex>", derived from the seed and a counter.
func (s *Server) sn(prefix string) string {
	s.snSeq++
	return prefix + "|" + md5Hex(fmt.Sprintf("%d/%s/%d", s.cfg.seed, prefix, s.snSeq))
}

// pageOf returns the window [from, to) of n items that pageIndex and pageSize select: pageIndex
// counts pages from 0, as clients page (REFERENCE §4 6.1).
func pageOf(c *call, n, defSize int) (int, int, error) {
	idx, err := intParam(c.p, "pageIndex", 0)
	if err != nil {
		return 0, 0, err
	}
	size, err := intParam(c.p, "pageSize", defSize)
	if err != nil {
		return 0, 0, err
	}
	if idx < 0 || size <= 0 {
		return 0, 0, fail(digelao.CodeBadData)
	}
	if idx >= n {
		return n, n, nil
	}
	size = min(size, n+1) // no overflow below
	from := min(idx*size, n)
	return from, min(from+size, n), nil
}
