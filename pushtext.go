package digelao

import (
	"fmt"
	"strings"
	"unicode/utf8"

	"golang.org/x/text/encoding/simplifiedchinese"
)

// charset is how the text of a push is read.
type charset int

const (
	charsetAuto charset = iota // UTF-8 when it is valid UTF-8, else GB18030 when it reads as such
	charsetUTF8
	charsetGB18030 // also for gbk and gb2312, which it extends (WHATWG's reading of those labels)
)

// parseCharset returns the charset name stands for: "" for auto, or one of utf-8, gbk, gb2312 and
// gb18030 (in any case).
func parseCharset(name string) (charset, error) {
	switch strings.ToLower(strings.TrimSpace(name)) {
	case "":
		return charsetAuto, nil
	case "utf-8", "utf8":
		return charsetUTF8, nil
	case "gbk", "gb2312", "gb18030":
		return charsetGB18030, nil
	}
	return charsetAuto, fmt.Errorf("unsupported charset %q (want utf-8, gbk, gb2312 or gb18030)", name)
}

// read returns texts as UTF-8, read in cs, and false when one of them does not read in it: then
// every text is returned as received.
func (cs charset) read(texts []string) ([]string, bool) {
	if cs != charsetGB18030 && allUTF8(texts) {
		return texts, true
	}
	if cs == charsetUTF8 {
		return texts, false
	}
	out := make([]string, len(texts))
	for i, s := range texts {
		r, ok := fromGB18030(s)
		if !ok {
			return texts, false
		}
		out[i] = r
	}
	return out, true
}

func allUTF8(texts []string) bool {
	for _, s := range texts {
		if !utf8.ValidString(s) {
			return false
		}
	}
	return true
}

// fromGB18030 returns s read as GB18030, and false when s is not GB18030 text: when the
// characters read do not encode back to s exactly, since the decoder replaces what it cannot read
// with U+FFFD. The reading is therefore one-to-one: two texts never read the same.
func fromGB18030(s string) (string, bool) {
	r, err := simplifiedchinese.GB18030.NewDecoder().String(s)
	if err != nil {
		return "", false
	}
	back, err := simplifiedchinese.GB18030.NewEncoder().String(r)
	return r, err == nil && back == s
}
