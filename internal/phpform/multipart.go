package phpform

import (
	"bytes"
	"errors"
	"io"
	"iter"
	"mime/multipart"
	"strings"
)

// Part is a part of a multipart/form-data body as PHP reads it (main/rfc1867.c).
type Part struct {
	Name     string // the name parameter of its Content-Disposition, "" when it has none
	FileName string
	File     bool   // it has a filename parameter, even an empty one: PHP puts it in $_FILES, not $_POST
	Data     []byte // its bytes as sent: PHP undoes no Content-Transfer-Encoding
}

// Parts yields the parts of the multipart/form-data body r, in order, and the error that ends
// them early, if any. A part whose Content-Disposition has neither a name nor a filename ends
// them, as PHP stops reading there; a part without one is yielded without a name, which PHP
// skips. A body that ends before its close delimiter ("--" boundary "--") — in a part, or where a
// boundary line is due — is io.ErrUnexpectedEOF once the parts before the cut are yielded, where
// PHP reads what came: a cut body has lost parts, maybe the ones that matter. The framing is Go's
// mime/multipart's, which parts from PHP's on bodies no client frames: a boundary line padded with
// white space, a part's data that holds "\n--" and the boundary (see
// TestPartsFramingDiffersFromPHP).
func Parts(r io.Reader, boundary string) iter.Seq2[*Part, error] {
	return func(yield func(*Part, error) bool) {
		mr := multipart.NewReader(&endReader{r: r, close: "--" + boundary + "--"}, boundary)
		for {
			p, err := mr.NextRawPart() // NextPart would undo a quoted-printable encoding
			if errors.Is(err, io.EOF) {
				return // the close delimiter: the body's own end is errEnd
			}
			if err != nil {
				yield(nil, cut(err))
				return
			}
			cd, ok := p.Header["Content-Disposition"]
			if !ok {
				cd = []string{""}
			}
			part, named := disposition(cd[0])
			if ok && !named && !part.File {
				return // PHP warns "File Upload Mime headers garbled" and reads no further
			}
			if part.Data, err = io.ReadAll(p); err != nil {
				yield(nil, cut(err))
				return
			}
			if !yield(part, nil) {
				return
			}
		}
	}
}

// errEnd is the end of a multipart body that has not reached its close delimiter, as Parts hands it
// to mime/multipart in place of io.EOF, which mime/multipart returns bare at the close delimiter
// and, from textproto, at the end of a part's headers cut short: io.EOF is then the close
// delimiter alone.
var errEnd = errors.New("phpform: end of the multipart body")

// cut returns io.ErrUnexpectedEOF for an error that is the end of the body.
func cut(err error) error {
	if errors.Is(err, errEnd) {
		return io.ErrUnexpectedEOF
	}
	return err
}

// endReader reads r, and at its end io.EOF when r's last line is the close delimiter (which
// mime/multipart then takes for the end, with or without a line break after it), else errEnd.
type endReader struct {
	r     io.Reader
	close string // "--" boundary "--"
	line  []byte // the start of r's last line, up to len(close) bytes
	long  bool   // the line goes on past them with more than blanks
}

func (e *endReader) Read(b []byte) (int, error) {
	n, err := e.r.Read(b)
	e.note(b[:n])
	if err == io.EOF && (e.long || string(e.line) != e.close) {
		err = errEnd
	}
	return n, err
}

// note keeps the start of the last line of what was read.
func (e *endReader) note(b []byte) {
	if i := bytes.LastIndexByte(b, '\n'); i >= 0 {
		e.line, e.long, b = e.line[:0], false, b[i+1:]
	}
	for _, c := range b {
		switch {
		case e.long:
			return
		case len(e.line) < len(e.close):
			e.line = append(e.line, c)
		case c != ' ' && c != '\t':
			e.long = true
		}
	}
}

// cSpace is C's isspace.
const cSpace = " \t\n\v\f\r"

// disposition reads a Content-Disposition's name and filename as PHP does, whatever its type:
// pairs split at ';' and '=' outside quotes, each value in double or single quotes or up to white
// space, a backslash escaping a backslash or the quote; the last of a repeated parameter wins.
// named reports whether it has a name parameter, even an empty one.
func disposition(cd string) (p *Part, named bool) {
	p = &Part{}
	if i := strings.IndexByte(cd, 0); i >= 0 {
		cd = cd[:i] // a C string
	}
	cd = strings.TrimLeft(cd, cSpace)
	for cd != "" {
		var pair string
		pair, cd = getword(cd, ';')
		cd = strings.TrimLeft(cd, cSpace)
		if !strings.Contains(pair, "=") {
			continue
		}
		key, value := getword(pair, '=')
		switch {
		case strings.EqualFold(key, "name"):
			p.Name, named = getwordConf(value), true
		case strings.EqualFold(key, "filename"):
			p.FileName, p.File = getwordConf(value), true
		}
	}
	return p, named
}

// getword is PHP's php_ap_getword: line up to the first stop outside quotes, and what follows the
// stops there.
func getword(line string, stop byte) (word, rest string) {
	i := 0
	for i < len(line) && line[i] != stop {
		q := line[i]
		i++
		if q != '"' && q != '\'' {
			continue
		}
		for i < len(line) && line[i] != q {
			if line[i] == '\\' && i+1 < len(line) && line[i+1] == q {
				i++
			}
			i++
		}
		if i < len(line) {
			i++
		}
	}
	word, rest = line[:i], line[i:]
	return word, strings.TrimLeft(rest, string(stop))
}

// getwordConf is PHP's php_ap_getword_conf: a parameter's value, quoted or up to white space.
func getwordConf(s string) string {
	s = strings.TrimLeft(s, cSpace)
	if s == "" {
		return ""
	}
	var quote byte
	if s[0] == '"' || s[0] == '\'' {
		quote, s = s[0], s[1:]
	} else if end := strings.IndexAny(s, cSpace); end >= 0 {
		s = s[:end]
	}
	b := make([]byte, 0, len(s))
	for i := 0; i < len(s) && (quote == 0 || s[i] != quote); i++ {
		if s[i] == '\\' && i+1 < len(s) && (s[i+1] == '\\' || quote != 0 && s[i+1] == quote) {
			i++
		}
		b = append(b, s[i])
	}
	return string(b)
}
