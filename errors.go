package digelao

import (
	"errors"
	"fmt"
	"strings"

	"github.com/digelao-go/digelao/internal/transport"
)

// Platform result codes (REFERENCE §2, "三、错误码定义").
const (
	CodeOK                = 0      // 请求处理成功
	CodeSignature         = 10001  // url验证失败: the anti-hijack "url" value did not match
	CodeSignatureAlt      = 100001 // the same failure as written in the GET notes of 9.1 and 6.2
	CodeTransportMethod   = 20001  // 数据传输方式错误: wrong HTTP method or body format
	CodeBadData           = 20002  // 数据格式错误: malformed parameters
	CodeClientType        = 20003  // 客户端类型不存在: unknown login "from" value
	CodeInvalidCredential = 20004  // 用户名或者密码错误: wrong username/password or access key
	CodeAPIKeyInvalid     = 20005  // api_key验证失败: api_key unknown or replaced by a newer login
	CodeAPIKeyExpired     = 20006  // api_key已过期: api_key older than two hours
	CodePermission        = 20007  // 没有接口访问权限: API access not enabled for the account
	CodeImportEmpty       = 30001  // 导入文件为空: the import file is empty
	CodeImportFormat      = 30002  // 导入文件格式错误: only xlsx and xls are accepted
	CodeImportNoTemplate  = 30003  // 导入失败,模板为空: the import template is empty
	CodeImportPending     = 30004  // 待呼叫数据过多: more than 300,000 numbers waiting to be called
	CodeImportTooMany     = 30005  // 数据过多: more than 30,000 rows in one import
	CodeImportNoData      = 30006  // 数据为空或者json…: no rows, or malformed client_info_json
)

// Sentinel errors, one per documented failure; test with errors.Is. Every *APIError with a
// documented code matches exactly one of them.
var (
	ErrSignature          = errors.New("digelao: url signature rejected")
	ErrTransportMethod    = errors.New("digelao: wrong transport method")
	ErrBadData            = errors.New("digelao: malformed data")
	ErrClientType         = errors.New("digelao: unknown client type")
	ErrInvalidCredentials = errors.New("digelao: invalid credentials")
	ErrAPIKeyInvalid      = errors.New("digelao: api_key invalid")
	ErrAPIKeyExpired      = errors.New("digelao: api_key expired")
	ErrPermission         = errors.New("digelao: no API permission")
	ErrImport             = errors.New("digelao: import rejected")

	// ErrBadReply matches an *APIError for a reply the SDK did not understand: not a JSON object,
	// no numeric code (where the endpoint's documented reply has one), an HTTP error without a
	// code, a redirect, data of the wrong shape, or a download that is not a file. A reply that is
	// not understood is never taken for success. RecordSync's sweeps also wrap it when the
	// platform's counts show that it ignores the creation-time filter.
	ErrBadReply = errors.New("digelao: reply not understood")
	// ErrIncomplete matches a paged list whose pages ended before the total the platform gave,
	// whose pages stopped changing, or that changed while it was paged (its total moved, or items
	// came again): the items read so far may not be the whole list. Read it again; the items read
	// come again.
	ErrIncomplete = errors.New("digelao: list incomplete")
	// ErrNoCheckpoint is what a RecordSync made with WithRequireCheckpoint answers when its store
	// holds no checkpoint: the store lost its state, and sweeping only the look-back could miss
	// the records between the lost checkpoint and the look-back.
	ErrNoCheckpoint = errors.New("digelao: the sync store holds no checkpoint")

	// ErrLeaseHeld is RecordSync.SweepOnce's answer while another replica sharing the SyncStore
	// holds the sweep lease, and the cause that stops a sweep whose lease was taken over.
	ErrLeaseHeld = errors.New("digelao: another replica holds the sync's sweep lease")

	// ErrClaimLost is the cause of a handler's context ending because its claim was lost: it lapsed
	// unrenewed (the store was unreachable past its TTL), and a redelivery may be handling the record.
	// A sink that commits after its context ended may deliver the record twice.
	ErrClaimLost = errors.New("digelao: the delivery's claim was lost")

	// ErrAllRejected is matched (errors.Is) by the error of a bulk write — an import, a delete — that
	// the platform answered but in which not one item succeeded. The call's result, returned with
	// the error, has the counts.
	ErrAllRejected = errors.New("digelao: every item was rejected")
)

// allRejected returns an error matching ErrAllRejected when none of total items succeeded.
func allRejected(ep endpoint, succeeded, total int) error {
	if succeeded > 0 || total == 0 {
		return nil
	}
	return fmt.Errorf("digelao: %s %s: %w (0 of %d)", ep.method, ep.path, ErrAllRejected, total)
}

// codeInfo describes a documented code: its platform meaning and the sentinel it maps to.
type codeInfo struct {
	meaning  string
	sentinel error
}

func lookupCode(code int) (codeInfo, bool) {
	switch code {
	case CodeSignature, CodeSignatureAlt:
		return codeInfo{"url验证失败 (signature mismatch)", ErrSignature}, true
	case CodeTransportMethod:
		return codeInfo{"数据传输方式错误 (wrong transport method)", ErrTransportMethod}, true
	case CodeBadData:
		return codeInfo{"数据格式错误 (malformed data)", ErrBadData}, true
	case CodeClientType:
		return codeInfo{"客户端类型不存在 (unknown client type)", ErrClientType}, true
	case CodeInvalidCredential:
		return codeInfo{"用户名或者密码错误 (wrong credentials)", ErrInvalidCredentials}, true
	case CodeAPIKeyInvalid:
		return codeInfo{"api_key验证失败 (api_key invalid)", ErrAPIKeyInvalid}, true
	case CodeAPIKeyExpired:
		return codeInfo{"api_key已过期 (api_key expired)", ErrAPIKeyExpired}, true
	case CodePermission:
		return codeInfo{"没有接口访问权限 (no API permission)", ErrPermission}, true
	case CodeImportEmpty:
		return codeInfo{"导入文件为空 (import file empty)", ErrImport}, true
	case CodeImportFormat:
		return codeInfo{"导入文件格式错误 (only xlsx/xls)", ErrImport}, true
	case CodeImportNoTemplate:
		return codeInfo{"导入失败,模板为空 (template empty)", ErrImport}, true
	case CodeImportPending:
		return codeInfo{"待呼叫数据过多 (over 300,000 pending numbers)", ErrImport}, true
	case CodeImportTooMany:
		return codeInfo{"数据过多 (over 30,000 rows per import)", ErrImport}, true
	case CodeImportNoData:
		return codeInfo{"数据为空或者json格式错误 (no data or bad json)", ErrImport}, true
	}
	return codeInfo{}, false
}

// CodeMeaning returns the documented meaning of a platform code, or "" for an undocumented one.
func CodeMeaning(code int) string {
	info, _ := lookupCode(code)
	return info.meaning
}

// APIError is a failure reported by the platform: a non-success code in the reply envelope, an
// HTTP error status, or a reply that is not the JSON the SDK expects. Match it with errors.As, or
// match its code with errors.Is against the sentinels (ErrSignature, ErrAPIKeyExpired, …); an
// APIError without a code matches ErrBadReply.
type APIError struct {
	Code       int    // platform code; 0 when the reply carried none (see HTTPStatus and Body)
	Msg        string // the platform's msg
	HTTPStatus int    // HTTP status of the reply
	Method     string // HTTP method of the request
	Path       string // request path, e.g. "/api/setCallback"
	Body       string // bounded excerpt of a reply that was not a JSON envelope
}

// maxExcerpt bounds how much of an unexpected reply an error keeps.
const maxExcerpt = 256

func (e *APIError) Error() string {
	var b strings.Builder
	fmt.Fprintf(&b, "digelao: %s %s: ", e.Method, e.Path)
	switch {
	case e.Code != 0:
		fmt.Fprintf(&b, "code %d", e.Code)
		m := CodeMeaning(e.Code)
		if m != "" {
			fmt.Fprintf(&b, " %s", m)
		}
		if msg := strings.TrimSpace(e.Msg); msg != "" && !strings.HasPrefix(m, msg) { // not the meaning again
			fmt.Fprintf(&b, ": %s", msg)
		}
	case e.Msg != "":
		fmt.Fprintf(&b, "HTTP %d: %s", e.HTTPStatus, e.Msg)
	default:
		fmt.Fprintf(&b, "HTTP %d", e.HTTPStatus)
	}
	if e.Body != "" {
		fmt.Fprintf(&b, " (body: %q)", e.Body)
	}
	return b.String()
}

// Unwrap returns the sentinel for e.Code, so errors.Is(err, ErrAPIKeyExpired) works: ErrBadReply
// when the reply carried no code, nil for an undocumented code.
func (e *APIError) Unwrap() error {
	if e.Code == 0 {
		return ErrBadReply
	}
	info, _ := lookupCode(e.Code)
	return info.sentinel
}

// Retryable reports whether the same request may succeed later: the platform answered HTTP 429
// or a 5xx. Reads are retried by the client already (WithRetries); a write is safe to repeat only
// when the caller knows it did not take effect (see AllowRetry).
func (e *APIError) Retryable() bool {
	return e.HTTPStatus == 429 || e.HTTPStatus >= 500
}

// ValidationError reports a request the SDK refused before sending anything.
type ValidationError struct {
	Field  string // the offending parameter or option, e.g. "callback_url"
	Reason string

	sentinel error // what it also matches, if anything: New without credentials matches ErrInvalidCredentials
}

// Unwrap returns the sentinel the error also matches: ErrInvalidCredentials for New without
// credentials; nil otherwise.
func (e *ValidationError) Unwrap() error { return e.sentinel }

func (e *ValidationError) Error() string {
	if e.Field == "" {
		return "digelao: invalid request: " + e.Reason
	}
	return "digelao: invalid " + e.Field + ": " + e.Reason
}

func invalid(field, format string, args ...any) error {
	return &ValidationError{Field: field, Reason: fmt.Sprintf(format, args...)}
}

// redactWindow is how much of a reply excerpt reads before it cuts: secrets are removed from
// this much first, so a secret is never cut in two with its first part shown.
const redactWindow = 64 << 10

// excerpt returns at most maxExcerpt bytes of b as valid text, with every secret removed before
// the text is cut.
func excerpt(b []byte, secrets ...string) string {
	s := redact(strings.ToValidUTF8(string(b[:min(len(b), redactWindow)]), ""), secrets...)
	s = strings.TrimSpace(s)
	if len(s) > maxExcerpt {
		s = strings.ToValidUTF8(s[:maxExcerpt], "") // a rune cut at the end is dropped
	}
	return s
}

// redact replaces every occurrence of each non-empty secret in s.
func redact(s string, secrets ...string) string { return transport.RedactString(s, secrets) }
