package digelao

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"mime"
	"net/http"
	"runtime/debug"
	"strings"
	"sync"
	"time"
	"unicode/utf8"

	"github.com/digelao-go/digelao/internal/flex"
	"github.com/digelao-go/digelao/internal/phpform"
)

// PushHandler is an http.Handler that receives the platform's pushes: call records (Platform API
// 6.6.1 挂机后流水推送回调, sent to callback_url), import results (5.7.15 异步导入推送, sent to
// task_callback_url) and task analytics (7.7 推送数据分析数据). Mount it at the URLs given to
// SetCallback; one handler can serve all three.
//
// It answers 200 with the body SUCCESS — what the platform waits for before it stops retrying —
// only after the event's callback returned nil, so SUCCESS means the event was handled. Every
// other answer makes the platform deliver again, up to three tries in all (6.6.1):
//
//   - 405 for a method other than POST, 401 when Token is set and the request's token query
//     parameter does not match, 413 for a body over MaxBodyBytes or a push of more members than
//     MaxMembers, 400 for a body that is neither JSON nor a form, and for a call record whose sn
//     is over 256 bytes (a platform sn is under 64) or holds an escaped lone surrogate. No
//     callback runs.
//   - 500 when the callback returned an error or panicked, and for every push while Charset
//     names no charset the handler reads (a misconfigured receiver acknowledges nothing).
//   - 501 when no callback takes the event: the kind's callback is nil and so is OnUnknown.
//   - 503 when the de-duplication store failed, or while another delivery of the same call
//     record is being handled.
//
// Bodies may be a JSON object, an application/x-www-form-urlencoded or multipart form (read exactly
// as PHP fills $_POST: the last of a repeated name wins, "import_mark[totalCount]=1" nests, "a[]"
// appends, '.' and ' ' in a name become '_'), or a form whose only field holds a JSON object:
// the documentation does not give the pushes' Content-Type. Text is read in the charset Charset
// chooses (by default the one the Content-Type names, else UTF-8 or GB18030, whichever the body
// is). A body with members dial_task_main_sn and import_mark is an import result, one with
// dial_task_main_data task analytics, one with sn or phone a call record; member names are
// matched exactly ("SN" is not sn, and goes to CallRecord.Extra). Anything else, and a body of a
// known kind whose fields do not decode, goes to OnUnknown as received; so does a known kind whose
// callback is nil.
//
// Call records are de-duplicated by sn (id when sn is empty), since the platform may deliver the
// same record more than once: a record already handled is answered SUCCESS without calling
// OnCallRecord again, and one whose callback failed is forgotten so that its redelivery is
// handled. The key is a digest of the sn exactly as received (or of the id, apart from every sn):
// two records share it only when their sn are the same text, and CallRecord.SN holds that text.
// Import results and analytics are not de-duplicated and arrive at least once: appending numbers
// to a task (5.7.2) pushes another import result for the same task, possibly with the same bytes,
// so nothing tells a redelivery from a new import. Make those callbacks idempotent.
//
// Pushes carry no signature (REFERENCE §5): set Token, give SetCallback a URL from CallbackURL,
// and serve over HTTPS. Without Token anyone who finds the URL can push; the handler logs a
// warning about it once, at its first request. The pushes are not a complete feed either: as the
// platform recommends, sweep the call-record list (6.1 /api/crmList) now and then to fill gaps.
//
// The zero value with a callback set is ready to use, with an in-memory de-duplication store;
// do not copy a PushHandler after its first request. It is safe for concurrent use.
type PushHandler struct {
	// OnCallRecord handles a call record (6.6.1).
	OnCallRecord func(context.Context, *CallRecord) error
	// OnImportResult handles the result of an asynchronous import (5.7.15).
	OnImportResult func(context.Context, *ImportResult) error
	// OnTaskAnalytics handles a task's analytics (7.7).
	OnTaskAnalytics func(context.Context, *TaskAnalytics) error
	// OnUnknown handles the body, exactly as received, of a push that is of no known kind, that
	// does not decode, or whose kind's callback is nil.
	OnUnknown func(context.Context, []byte) error

	// Token, when set, must be the request's "token" query parameter: give SetCallback the same
	// Token (CallbackRequest.Token). It is compared in constant time and never printed or logged.
	Token Secret
	// MaxBodyBytes bounds a push's body. Default 1 MiB.
	MaxBodyBytes int64
	// MaxMembers bounds what a push may hold: the members and elements of its JSON at every
	// depth, or the fields of a form and the arrays their names open ("a[x][]=1" opens two). A
	// push over it is answered 413, naming the bound, and no callback runs, where PHP would drop
	// a form's fields past max_input_vars (1,000) silently. Default 10,000; a platform push
	// holds under 100.
	MaxMembers int
	// Charset is how the text of a push is read. "" (the default) reads it in the charset its
	// Content-Type names, else as UTF-8 when it is valid UTF-8, else as GB18030 (which extends
	// GBK and GB2312), the likely charset of a Chinese PHP platform. "utf-8", "gbk", "gb2312" or
	// "gb18030" reads every push so, whatever its Content-Type says. Text that does not read in
	// its charset is kept as received and logged: its decoded fields then hold U+FFFD where a
	// byte was not text, while Raw and CallRecord.SN keep the bytes. Any other value answers
	// every push 500.
	Charset string
	// Dedup remembers which call records were handled. Give every replica behind one callback
	// URL the same store (redisstore.Store). Default: NewMemoryDedup(100_000), for one process
	// (about 6.5 MiB when full).
	Dedup DedupStore
	// Logger receives a line per refused or failed push and per duplicate. Default: discard.
	Logger *slog.Logger

	sync *RecordSync // set by RecordSync.Handler: call records go to it, de-duplicated by it

	init    sync.Once
	dedup   *once // the de-duplication of call records, unless sync does it
	log     *slog.Logger
	charset charset
	config  error // why the handler cannot take pushes
}

// Defaults of PushHandler.
const (
	defaultPushBodyBytes = 1 << 20
	defaultPushMembers   = 10_000
	defaultDedupCapacity = 100_000
	// maxSNBytes bounds the sn a call record may carry: it becomes a de-duplication key.
	maxSNBytes = 256
)

func (h *PushHandler) setUp() {
	h.log = h.Logger
	if h.log == nil {
		h.log = slog.New(slog.DiscardHandler)
	}
	store := h.Dedup
	if store == nil {
		store, h.config = NewMemoryDedup(defaultDedupCapacity)
	}
	h.dedup = &once{store: store, tokens: newClaimTokens(), timers: realTimers{}, log: h.log}
	cs, err := parseCharset(h.Charset)
	h.charset = cs
	switch {
	case err != nil:
		h.config = fmt.Errorf("PushHandler.Charset: %w", err)
	case h.sync != nil && h.OnCallRecord != nil:
		h.config = errors.New("PushHandler.OnCallRecord is set on a RecordSync's Handler, whose call records go to the sync")
	}
	if h.Token.IsZero() {
		h.log.Warn("digelao: PushHandler.Token is not set: anyone who finds the callback URL can push")
	}
}

// ServeHTTP implements http.Handler; see PushHandler.
func (h *PushHandler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	h.init.Do(h.setUp)
	log := &pushLog{log: h.log, r: r}
	if h.config != nil {
		log.write(slog.LevelError, "digelao: push handler misconfigured; answering 500", slog.Any("error", h.config))
		fail(w, http.StatusInternalServerError)
		return
	}
	if r.Method != http.MethodPost {
		w.Header().Set("Allow", http.MethodPost)
		refuse(w, log, http.StatusMethodNotAllowed, slog.String("method", r.Method))
		return
	}
	if !h.Token.IsZero() && !h.Token.Equal(NewSecret(r.URL.Query().Get("token"))) {
		refuse(w, log, http.StatusUnauthorized, slog.String("reason", "missing or wrong token"))
		return
	}
	body, err := readBody(w, r, h.MaxBodyBytes)
	if err != nil {
		var tooBig *http.MaxBytesError
		if errors.As(err, &tooBig) {
			refuse(w, log, http.StatusRequestEntityTooLarge, slog.Int64("limit", tooBig.Limit))
			return
		}
		refuse(w, log, http.StatusBadRequest, slog.Any("error", err))
		return
	}
	contentType := r.Header.Get("Content-Type")
	cs, err := requestCharset(h.charset, contentType)
	if err != nil {
		log.write(slog.LevelWarn, "digelao: push declares a charset the handler does not read; read as UTF-8 or GB18030", slog.Any("error", err))
	}
	ev, err := decodePush(contentType, cs, body, h.MaxMembers)
	if err != nil {
		status := http.StatusBadRequest
		if errors.Is(err, errTooManyMembers) {
			status = http.StatusRequestEntityTooLarge
		}
		refuse(w, log, status, slog.Any("error", err))
		return
	}
	log.ev = ev
	if ev.unread {
		log.write(slog.LevelWarn, "digelao: push text does not read in its charset; kept as received")
	}
	if ev.err != nil {
		log.write(slog.LevelWarn, "digelao: push does not decode; passed on as unknown", slog.Any("error", ev.err))
	}
	if status := h.deliver(r.Context(), ev, body, log); status != http.StatusOK {
		fail(w, status)
		return
	}
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	_, _ = io.WriteString(w, "SUCCESS")
}

// refuse answers status to a push that is not handled, and logs why.
func refuse(w http.ResponseWriter, log *pushLog, status int, why slog.Attr) {
	log.write(slog.LevelWarn, "digelao: push refused", slog.Int("status", status), why)
	fail(w, status)
}

// pushLog writes the lines about one push with the request's attributes and, once it is decoded,
// the push's. They are built only for a line the Logger writes: a push that logs nothing costs
// nothing here.
type pushLog struct {
	log *slog.Logger
	r   *http.Request
	ev  *pushEvent // once decoded
	key string     // a call record's de-duplication key, once the handler de-duplicates it
}

func (l *pushLog) write(level slog.Level, msg string, attrs ...slog.Attr) {
	ctx := l.r.Context()
	if !l.log.Enabled(ctx, level) {
		return
	}
	all := make([]slog.Attr, 0, 6+len(attrs))
	all = append(all, slog.String("path", l.r.URL.Path), slog.String("remote", l.r.RemoteAddr)) // never r.URL: it holds the token
	if l.ev != nil {
		all = append(all, slog.String("kind", l.ev.kind()))
	}
	if l.key != "" {
		all = append(all, slog.String("key", l.key), slog.String("sn", l.ev.call.SN), slog.Int64("id", l.ev.call.ID))
	}
	l.log.LogAttrs(ctx, level, msg, append(all, attrs...)...)
}

// fail answers status, an error, and ends the connection with it. net/http reads what is left of
// a request's body before it lets a connection go, also after the answer: a refused push from a
// slow sender (a 401 for a wrong token is answered before the body is read) would otherwise hold
// its connection until the server's read timeout.
func fail(w http.ResponseWriter, status int) {
	w.Header().Set("Connection", "close")
	_ = http.NewResponseController(w).SetReadDeadline(time.Now()) // unsupported by a recorder: nothing to hold
	http.Error(w, http.StatusText(status), status)
}

// readBody reads the request's body, at most limit bytes (default 1 MiB).
func readBody(w http.ResponseWriter, r *http.Request, limit int64) ([]byte, error) {
	if limit <= 0 {
		limit = defaultPushBodyBytes
	}
	if r.ContentLength > limit {
		return nil, &http.MaxBytesError{Limit: limit}
	}
	if r.Body == nil {
		return nil, nil
	}
	return io.ReadAll(http.MaxBytesReader(w, r.Body, limit))
}

// deliver hands ev to its callback, de-duplicating call records, and returns the status to answer.
func (h *PushHandler) deliver(ctx context.Context, ev *pushEvent, body []byte, log *pushLog) int {
	fn := h.callback(ev, body)
	if fn == nil {
		log.write(slog.LevelError, "digelao: no callback for this push; set OnUnknown to receive it")
		return http.StatusNotImplemented
	}
	key := ev.dedupKey()
	if key == "" || h.sync != nil { // a sync's Handler: the sync's claim is the only one
		return h.run(ctx, fn, log)
	}
	log.key = key
	status := http.StatusOK
	state, claimErr, _ := h.dedup.deliver(ctx, key, slog.Attr{}, func(ctx context.Context) error {
		if status = h.run(ctx, fn, log); status != http.StatusOK {
			return errors.New(http.StatusText(status)) // logged by run
		}
		return nil
	})
	switch {
	case claimErr != nil:
		log.write(slog.LevelError, "digelao: push de-duplication failed", slog.Any("error", claimErr))
		return http.StatusServiceUnavailable
	case state == ClaimDone:
		log.write(slog.LevelInfo, "digelao: duplicate push acknowledged")
		return http.StatusOK
	case state != ClaimNew:
		log.write(slog.LevelInfo, "digelao: push is being handled by another delivery")
		return http.StatusServiceUnavailable
	}
	return status
}

// callback returns the call of the callback that takes ev, or nil when none does.
func (h *PushHandler) callback(ev *pushEvent, body []byte) func(context.Context) error {
	switch {
	case ev.call != nil && h.sync != nil:
		return func(ctx context.Context) error { return h.sync.Push(ctx, ev.call) }
	case ev.call != nil && h.OnCallRecord != nil:
		return func(ctx context.Context) error { return h.OnCallRecord(ctx, ev.call) }
	case ev.imp != nil && h.OnImportResult != nil:
		return func(ctx context.Context) error { return h.OnImportResult(ctx, ev.imp) }
	case ev.stats != nil && h.OnTaskAnalytics != nil:
		return func(ctx context.Context) error { return h.OnTaskAnalytics(ctx, ev.stats) }
	case h.OnUnknown != nil:
		return func(ctx context.Context) error { return h.OnUnknown(ctx, body) }
	}
	return nil
}

// run calls fn, turning an error or a panic into 500.
func (h *PushHandler) run(ctx context.Context, fn func(context.Context) error, log *pushLog) (status int) {
	defer func() {
		if p := recover(); p != nil {
			log.write(slog.LevelError, "digelao: push callback panicked", slog.String("panic", fmt.Sprint(p)), slog.String("stack", string(debug.Stack())))
			status = http.StatusInternalServerError
		}
	}()
	if err := fn(ctx); err != nil {
		if errors.Is(err, errDeliveryInProgress) {
			log.write(slog.LevelInfo, "digelao: push is being handled by another delivery")
			return http.StatusServiceUnavailable
		}
		log.write(slog.LevelError, "digelao: push callback failed", slog.Any("error", err))
		return http.StatusInternalServerError
	}
	return http.StatusOK
}

// pushEvent is a decoded push: one of call, imp, stats, or none for an unknown one.
type pushEvent struct {
	call   *CallRecord
	imp    *ImportResult
	stats  *TaskAnalytics
	err    error // why a push that looks like a known kind is unknown
	unread bool  // its text does not read in its charset and was kept as received
}

func (e *pushEvent) kind() string {
	switch {
	case e.call != nil:
		return "call_record"
	case e.imp != nil:
		return "import_result"
	case e.stats != nil:
		return "task_analytics"
	}
	return "unknown"
}

// dedupKey is the DedupStore key of a call record, "" for anything else: "call:" and its digest.
func (e *pushEvent) dedupKey() string {
	if e.call == nil {
		return ""
	}
	return e.call.key("call:")
}

var (
	errEmptyPush      = errors.New("empty body")
	errTooManyMembers = errors.New("too many members")
)

// decodePush turns a push's body, its text read in cs, into an event. The error is for a body
// that is neither JSON nor a form, for one holding more than limit members (errTooManyMembers;
// 0 is the default), and for a call record whose sn cannot be a key; valid JSON that is not an
// object, and an object of no known kind, are unknown events.
func decodePush(contentType string, cs charset, body []byte, limit int) (*pushEvent, error) {
	pb, err := pushObject(contentType, cs, body, limit)
	if err != nil || pb == nil {
		return &pushEvent{}, err
	}
	return classify(pb)
}

// requestCharset returns the charset a push is read in: cs when Charset chose one, else the one
// its Content-Type names. The error is for a charset named but not read (auto is used instead).
func requestCharset(cs charset, contentType string) (charset, error) {
	if cs != charsetAuto || !strings.Contains(contentType, ";") { // no parameters: no charset named
		return cs, nil
	}
	_, params, _ := mime.ParseMediaType(contentType)
	name, ok := params["charset"]
	if !ok {
		return charsetAuto, nil
	}
	return parseCharset(name)
}

// pushBody is a push's body, read.
type pushBody struct {
	obj  []byte         // the JSON object the push carries, as UTF-8 text
	raw  []byte         // the push as received: its JSON object, or the whole body of a form
	form *phpform.Array // a form's fields, when obj was built from them: their exact text
	read bool           // false when its text does not read in its charset: kept as received
}

// pushObject returns the JSON object a push carries, its text read in cs, or nil for JSON that is
// not an object and for a form without named fields. A push of more than limit members (0: the
// default) is errTooManyMembers.
func pushObject(contentType string, cs charset, body []byte, limit int) (*pushBody, error) {
	if limit <= 0 {
		limit = defaultPushMembers
	}
	b := bytes.TrimSpace(bytes.TrimPrefix(body, []byte("\xef\xbb\xbf")))
	if len(b) == 0 {
		return nil, errEmptyPush
	}
	var pb *pushBody
	switch {
	case b[0] == '{': // checked by classify
		if cs != charsetGB18030 && utf8.Valid(b) {
			pb = &pushBody{obj: b, raw: b, read: true} // UTF-8 as it is: nothing to convert
		} else {
			text, ok := cs.read([]string{string(b)})
			pb = &pushBody{obj: []byte(text[0]), raw: b, read: ok}
		}
	case json.Valid(b):
		return nil, nil
	case b[0] == '[':
		return nil, errors.New("invalid JSON")
	default:
		var err error
		if pb, err = readForm(contentType, cs, body, limit); err != nil || pb == nil || pb.form != nil {
			return pb, err // a form's members were counted as it was read
		}
	}
	if overMembers(pb.obj, limit) {
		return nil, tooManyMembers(limit)
	}
	return pb, nil
}

// tooManyMembers is the error for a push of more than limit members.
func tooManyMembers(limit int) error {
	return fmt.Errorf("%w: over %d (PushHandler.MaxMembers)", errTooManyMembers, limit)
}

// readForm reads a form push, its fields split as PHP splits $_POST or a multipart body; see
// formBody.
func readForm(contentType string, cs charset, body []byte, limit int) (*pushBody, error) {
	var fields []phpform.Var
	var more bool
	if media, params, _ := mime.ParseMediaType(contentType); media == "multipart/form-data" {
		var err error
		if fields, more, err = multipartFields(body, params["boundary"], limit); err != nil {
			return nil, fmt.Errorf("neither JSON nor a form: %w", err)
		}
	} else {
		fields, more = phpform.Post(string(body), limit)
	}
	if more {
		return nil, tooManyMembers(limit)
	}
	return formBody(fields, cs, body, limit)
}

// formBody returns a push from a form's fields, their text read in cs (a form is read as a whole:
// one charset for all its text): the JSON object a sole field holds (as "data={…}", or a
// percent-encoded "{…}" alone), or else the fields as PHP fills $_POST with them, as
// json_encode($_POST) writes it; nil for a form without named fields, whose $_POST is a list. The
// error is for more than limit members: the fields and the arrays their names open.
func formBody(fields []phpform.Var, cs charset, body []byte, limit int) (*pushBody, error) {
	texts := make([]string, 0, 2*len(fields))
	size := 2 // the JSON's: its text, quoted and separated, if it needs no escapes
	for _, f := range fields {
		texts = append(texts, f.Name, f.Value)
		size += len(f.Name) + len(f.Value) + 6
	}
	texts, ok := cs.read(texts)
	if len(fields) == 1 {
		obj := jsonObject(texts[1])
		if obj == nil && texts[1] == "" {
			obj = jsonObject(texts[0])
		}
		if obj != nil {
			return &pushBody{obj: obj, raw: body, read: ok}, nil
		}
	}
	form, members := &phpform.Array{}, len(fields)
	for i := 0; i < len(texts); i += 2 {
		if members += form.Set(texts[i], texts[i+1]); members > limit {
			return nil, tooManyMembers(limit) // refused before it costs more
		}
	}
	if form.IsList() {
		return nil, nil
	}
	return &pushBody{obj: form.AppendJSON(make([]byte, 0, size)), raw: body, form: form, read: ok}, nil
}

// multipartFields returns the first n fields of a multipart form, and whether it holds more. A
// part with a file name is a file, not a field, as PHP reads one into $_FILES.
func multipartFields(b []byte, boundary string, n int) ([]phpform.Var, bool, error) {
	var fields []phpform.Var
	for p, err := range phpform.Parts(bytes.NewReader(b), boundary) {
		if err != nil {
			return nil, false, err
		}
		if p.File {
			continue
		}
		if len(fields) == n {
			return fields, true, nil
		}
		fields = append(fields, phpform.Var{Name: p.Name, Value: string(p.Data)})
	}
	return fields, false, nil
}

// jsonObject returns s as bytes when it is a JSON object, else nil.
func jsonObject(s string) []byte {
	s = strings.TrimSpace(s)
	if !strings.HasPrefix(s, "{") || !json.Valid([]byte(s)) {
		return nil
	}
	return []byte(s)
}

// overMembers reports whether the JSON b holds more than limit members and elements, at every
// depth (b is checked later: JSON that is not valid is refused either way). Each of them follows a
// ',' or opens its container, so the count of ',', '{' and '[' bounds theirs (those in strings
// only add to it): only a body over the bound on that count is scanned, without allocating, so
// that no push costs memory in proportion to its members before it is refused.
func overMembers(b []byte, limit int) bool {
	if bytes.Count(b, []byte{','})+bytes.Count(b, []byte{'{'})+bytes.Count(b, []byte{'['}) <= limit {
		return false
	}
	n, open, str := 0, false, false // open: the last byte outside white space opened a container
	for i := 0; i < len(b); i++ {
		c := b[i]
		if str {
			switch c {
			case '\\':
				i++
			case '"':
				str = false
			}
			continue
		}
		switch {
		case c == ' ' || c == '\t' || c == '\n' || c == '\r':
			continue
		case c == ',' || open && c != ']' && c != '}':
			if n++; n > limit {
				return true
			}
		}
		open, str = c == '{' || c == '[', c == '"'
	}
	return false
}

// classify decodes a push's JSON object by its kind. The object is decoded as a call record while
// its members tell its kind: one scan for a call record, the kind pushed most. A known kind whose
// members do not decode is an unknown event, with the reason in err; the error is for JSON that
// is not valid, and for a call record whose sn cannot be its key.
func classify(pb *pushBody) (*pushEvent, error) {
	var m pushMembers
	call := new(CallRecord)
	if err := callRecordCodec.DecodeOwned(pb.obj, call, m.note); err != nil {
		return nil, fmt.Errorf("invalid JSON: %w", err) // a CallRecord takes any valid object
	}
	ev := pushEvent{unread: !pb.read}
	var err error
	switch {
	case m.taskSN && m.importMark:
		ev.imp = new(ImportResult)
		if err = ev.imp.UnmarshalJSON(pb.obj); err == nil {
			err = fits(ev.imp.Extra, "dial_task_main_sn")
			ev.imp.Raw = pb.raw
		}
	case m.taskData:
		ev.stats = new(TaskAnalytics)
		if err = ev.stats.UnmarshalJSON(pb.obj); err == nil {
			ev.stats.Raw = pb.raw
		}
	case m.sn != nil || m.phone:
		if err = fits(call.Extra, "sn"); err != nil {
			break
		}
		sn, snErr := pb.sn(call.SN, m.sn)
		if snErr == nil && len(sn) > maxSNBytes {
			snErr = fmt.Errorf("%d bytes, over %d (a platform sn is under 64)", len(sn), maxSNBytes)
		}
		if snErr != nil {
			return nil, fmt.Errorf("call record's sn: %w", snErr)
		}
		call.SN, call.Raw = sn, pb.raw
		ev.call = call
	}
	if err != nil {
		return &pushEvent{err: err, unread: ev.unread}, nil
	}
	return &ev, nil
}

// fits reports, for the member that says which task or call a push is about, an error when its
// value did not fit its field and was kept in extra instead: such a push is of no known kind.
func fits(extra map[string]json.RawMessage, name string) error {
	if v, ok := extra[name]; ok {
		return fmt.Errorf("%s: %.40s is not text", name, v)
	}
	return nil
}

// pushMembers notes the members, by their exact names, that tell a push's kind.
type pushMembers struct {
	taskSN, importMark, taskData, phone bool
	sn                                  []byte // the sn member's value as received; nil when absent
}

func (m *pushMembers) note(name, value []byte) {
	switch string(name) {
	case "dial_task_main_sn":
		m.taskSN = true
	case "import_mark":
		m.importMark = true
	case "dial_task_main_data":
		m.taskData = true
	case "phone":
		m.phone = true
	case "sn":
		m.sn = value
	}
}

// sn returns the sn's text exactly as received: a form field's as read, or else read, the text
// of the JSON value raw ("" when there is none: the record is keyed by its id), when it is exact
// (flex.Exact).
func (pb *pushBody) sn(read string, raw []byte) (string, error) {
	if pb.form != nil {
		v, _ := pb.form.Get("sn")
		s, _ := v.(string) // an array does not decode as a record
		return s, nil
	}
	return read, flex.Exact(raw)
}

// ImportResult is the result of an asynchronous import (Platform API 5.7.15 异步导入推送): the
// counters on success, or the reason it failed. The page says import_mark holds one or the other;
// a reason is read from a JSON string that does not hold the counters [inferred].
type ImportResult struct {
	TaskSN  string       // dial_task_main_sn
	Counts  ImportCounts // import_mark, on success
	Failure string       // import_mark, when the import failed; empty on success

	Extra map[string]json.RawMessage // members without a field above; marshalled inline
	// Raw is the push exactly as received, as CallRecord.Raw: JSON only when Raw[0] is '{'. It is
	// not marshalled.
	Raw json.RawMessage
}

// importResultWire is ImportResult as it travels: import_mark holds the counters or the reason.
type importResultWire struct {
	TaskSN string          `json:"dial_task_main_sn"`
	Mark   json.RawMessage `json:"import_mark"`

	Extra map[string]json.RawMessage `json:"-"`
	Raw   json.RawMessage            `json:"-"`
}

var importResultCodec = flex.NewCodec[importResultWire]()

// UnmarshalJSON decodes the result: import_mark as the counters (an object, or a string holding
// one), else as the reason of a failure.
func (r *ImportResult) UnmarshalJSON(b []byte) error {
	var w importResultWire
	if err := importResultCodec.Decode(b, &w); err != nil {
		return err
	}
	*r = ImportResult{TaskSN: w.TaskSN, Extra: w.Extra, Raw: w.Raw}
	mark := w.Mark
	var s string
	if json.Unmarshal(mark, &s) == nil { // a string: the counters as JSON, or a reason
		if !strings.HasPrefix(strings.TrimSpace(s), "{") {
			r.Failure = s
			return nil
		}
		mark = json.RawMessage(s)
	}
	if isEmpty(mark) {
		return nil
	}
	if mark[0] != '{' {
		r.Failure = string(mark) // a number or a list: kept as the reason, as written
		return nil
	}
	return r.Counts.UnmarshalJSON(mark)
}

// MarshalJSON writes the result as the platform pushes it: import_mark holds Failure when it is
// set, else the counters.
func (r ImportResult) MarshalJSON() ([]byte, error) {
	w := importResultWire{TaskSN: r.TaskSN, Extra: r.Extra}
	var err error
	if r.Failure != "" {
		w.Mark, err = json.Marshal(r.Failure)
	} else {
		w.Mark, err = r.Counts.MarshalJSON()
	}
	if err != nil {
		return nil, err
	}
	return importResultCodec.Encode(&w)
}

// TaskAnalytics is a task's statistics, pushed at the interval set in the platform's console
// (Platform API 7.7 推送数据分析数据).
type TaskAnalytics struct {
	Task      AnalyticsTask `json:"dial_task_main_data"`
	HangUps   []HangUpStat  `json:"hang_up_data"`    // where in the script callees hung up (跳出率)
	Unmatched []string      `json:"out_of_key_data"` // what callees said that the script did not match (待学习问题)

	Extra map[string]json.RawMessage `json:"-"` // members without a field above; marshalled inline
	// Raw is the push exactly as received, as CallRecord.Raw: JSON only when Raw[0] is '{'. It is
	// not marshalled.
	Raw json.RawMessage `json:"-"`
}

var taskAnalyticsCodec = flex.NewCodec[TaskAnalytics]()

// UnmarshalJSON decodes the analytics tolerantly.
func (a *TaskAnalytics) UnmarshalJSON(b []byte) error { return taskAnalyticsCodec.Decode(b, a) }

// MarshalJSON writes the analytics with the platform's member names.
func (a TaskAnalytics) MarshalJSON() ([]byte, error) { return taskAnalyticsCodec.Encode(&a) }

// AnalyticsTask is the task part of TaskAnalytics. Members without a field here are kept in
// TaskAnalytics.Raw.
type AnalyticsTask struct {
	TaskSN         string     `json:"dial_task_main_sn"`
	Source         string     `json:"source"`     // the task's name
	ProjectSN      string     `json:"project_sn"` // the script template
	ProjectCaption string     `json:"project_caption"`
	Status         TaskStatus `json:"status"`      // [inferred: as 5.1 lists it]
	Total          int        `json:"total_count"` // numbers in the task
	Sent           int        `json:"send_count"`  // numbers dialled
	Success        int        `json:"success"`     // calls connected [inferred]
	Operator       string     `json:"operator"`
	UserName       string     `json:"user_name"`
	Remark         string     `json:"remark"`
	StartedAt      time.Time  `json:"started_at"`
	StoppedAt      time.Time  `json:"stoped_at"` // (sic)
}

// HangUpStat is how many calls ended at one node of the script.
type HangUpStat struct {
	Node  string  `json:"hangUpName"`
	Count int     `json:"hangUpCount"`
	Rate  float64 `json:"hangUpRate"` // percent
}
