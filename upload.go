package digelao

import (
	"errors"
	"fmt"
	"io"
	"mime/multipart"
	"net/textproto"
	"path"
	"slices"
	"strings"

	"github.com/digelao-go/digelao/internal/transport"
)

// File is a file to upload: its name, whose extension the platform checks, and its content.
//
// Content is streamed into the request as it is sent, never read whole into memory. When it is
// also an io.Seeker (an *os.File, a *bytes.Reader, …) its size is sent ahead, and a call made
// under AllowRetry rewinds it for each attempt; any other reader is sent chunked, exactly once,
// and never retried. Content is read from its current position and is no longer used once the
// call returns (a Read that blocks therefore holds the call); the caller closes it.
//
// With Client.Do, a *File parameter makes the request a multipart upload.
type File struct {
	Name    string
	Content io.Reader
}

// uploadField is the multipart field that carries the file on every upload endpoint.
const uploadField = "upload"

// Excel file extensions the platform accepts (30002: 只支持xlsx、xls).
var excelExts = []string{".xlsx", ".xls"}

// uploadFile checks that f has content and a name with one of exts, and returns it as the value
// of the upload field.
func uploadFile(f *File, exts ...string) (*File, error) {
	if f == nil || f.Content == nil {
		return nil, invalid(uploadField, "no content")
	}
	if !slices.Contains(exts, strings.ToLower(path.Ext(f.Name))) {
		return nil, invalid(uploadField, "the platform takes only %s files here, got %q", strings.Join(exts, " or "), f.Name)
	}
	return f, nil
}

// upload is the file of one call, kept across its attempts and its re-login: where its content
// starts and how long it is (-1, -1 when it cannot seek), and whether an attempt has read it.
type upload struct {
	field       string // the file's form field
	file        *File
	start, size int64
	used        bool
}

// newUpload returns the upload of a call with params p, or nil when p carries no *File.
func newUpload(p *Params) (*upload, error) {
	var up *upload
	for i, k := range p.Keys() {
		f, ok := p.vals[i].(*File)
		switch {
		case !ok:
			continue
		case up != nil:
			return nil, invalid(k, "one file per request")
		case f == nil || f.Content == nil:
			return nil, invalid(k, "no content")
		}
		up = &upload{field: k, file: f, start: -1, size: -1}
		if s, ok := f.Content.(io.Seeker); ok {
			up.start, up.size = seekSpan(s)
		}
	}
	return up, nil
}

// rewindable reports whether the upload can be sent again. A nil upload (none) can.
func (up *upload) rewindable() bool { return up == nil || up.start >= 0 }

// multipartForm is a signed multipart/form-data request: the parameters as form fields in order
// with url last, then the file.
//
// PHP builds $_POST from the form fields and $_FILES from the file, and the platform checks url
// against $_POST without url (REFERENCE §1.3, applied to uploads [inferred]): so url is signed
// over the fields alone, in the order they are sent. The file comes last so that every field
// precedes the large part.
type multipartForm struct {
	fields [][2]string
	up     *upload
}

// newMultipartForm signs p's fields, all but up's file.
func newMultipartForm(p *Params, up *upload) (*multipartForm, error) {
	m := &multipartForm{up: up}
	fields := NewParams()
	for i, k := range p.keys {
		if k == up.field {
			continue
		}
		if _, nested := p.vals[i].(*Params); nested || listLen(p.vals[i]) >= 0 {
			return nil, fmt.Errorf("%s: a multipart form takes only text fields", k)
		}
		s, err := scalarString(p.vals[i])
		if err != nil {
			return nil, fmt.Errorf("%s: %w (a multipart form takes only text fields)", k, err)
		}
		fields.Set(k, p.vals[i])
		m.fields = append(m.fields, [2]string{k, s})
	}
	sig, err := Sign(fields)
	if err != nil {
		return nil, err
	}
	m.fields = append(m.fields, [2]string{"url", sig})
	return m, nil
}

// seekSpan returns s's position and the bytes left after it, or -1, -1 when s cannot seek (as
// an *os.File on a pipe cannot); s is left where it was.
func seekSpan(s io.Seeker) (int64, int64) {
	start, err := s.Seek(0, io.SeekCurrent)
	if err != nil {
		return -1, -1
	}
	end, err := s.Seek(0, io.SeekEnd)
	if _, err2 := s.Seek(start, io.SeekStart); err != nil || err2 != nil || end < start {
		return -1, -1
	}
	return start, end - start
}

// fill makes req send the form, rewinding the content when an earlier attempt — or the first
// send, before a re-login — has read it.
func (m *multipartForm) fill(req *transport.Request) error {
	up := m.up
	if up.used {
		if !up.rewindable() {
			return errors.New("upload content was read by an earlier attempt and cannot be rewound")
		}
		if _, err := up.file.Content.(io.Seeker).Seek(up.start, io.SeekStart); err != nil {
			return fmt.Errorf("rewinding upload content: %w", err)
		}
	}
	up.used = true
	boundary := multipart.NewWriter(io.Discard).Boundary()
	req.ContentType = "multipart/form-data; boundary=" + boundary
	if up.size >= 0 {
		var n countWriter
		if err := m.write(&n, boundary, strings.NewReader("")); err != nil {
			return err
		}
		req.ContentLength = int64(n) + up.size
	}
	req.Write = func(w io.Writer) error {
		content := up.file.Content
		if up.size >= 0 {
			content = io.LimitReader(content, up.size) // exactly the length announced
		}
		return m.write(w, boundary, content)
	}
	return nil
}

// write writes the form to w with content as the file.
func (m *multipartForm) write(w io.Writer, boundary string, content io.Reader) error {
	mw := multipart.NewWriter(w)
	if err := mw.SetBoundary(boundary); err != nil {
		return err
	}
	for _, f := range m.fields {
		if err := mw.WriteField(f[0], f[1]); err != nil {
			return err
		}
	}
	h := textproto.MIMEHeader{}
	h.Set("Content-Disposition", fmt.Sprintf(`form-data; name="%s"; filename="%s"`,
		quoteEscaper.Replace(m.up.field), quoteEscaper.Replace(path.Base(m.up.file.Name))))
	h.Set("Content-Type", contentType(m.up.file.Name))
	part, err := mw.CreatePart(h)
	if err != nil {
		return err
	}
	if _, err := io.Copy(part, content); err != nil {
		return err
	}
	return mw.Close()
}

var quoteEscaper = strings.NewReplacer(`\`, `\\`, `"`, `\"`)

// contentType is the type sent with an uploaded file, by its extension.
func contentType(name string) string {
	switch strings.ToLower(path.Ext(name)) {
	case ".xlsx":
		return "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
	case ".xls":
		return "application/vnd.ms-excel"
	}
	return "application/octet-stream"
}

// countWriter counts the bytes written to it.
type countWriter int64

func (c *countWriter) Write(p []byte) (int, error) {
	*c += countWriter(len(p))
	return len(p), nil
}
