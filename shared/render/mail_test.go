package render

import (
	"strings"
	"testing"
	"time"

	"golang.org/x/net/html"

	"github.com/rooms-export/rooms-export/shared/chat"
)

func TestMailBodyHTMLIsInlineStyled(t *testing.T) {
	htmlBody, _ := MailBody(sampleRoom(), sampleMessages(), berlin(t))
	root := parseHTML(t, []byte(htmlBody))
	if n := len(elements(root, "style")); n != 0 {
		t.Errorf("mail has %d <style> elements; mail clients drop them", n)
	}
	if n := len(elements(root, "img")); n != 0 {
		t.Errorf("mail has %d images; it must fetch nothing", n)
	}
	walk(root, func(n *html.Node) {
		if _, ok := attr(n, "class"); ok {
			t.Errorf("<%s> relies on a class", n.Data)
		}
		if href, ok := attr(n, "href"); ok && !strings.HasPrefix(href, "https://") && !strings.HasPrefix(href, "http://") && !strings.HasPrefix(href, "mailto:") {
			t.Errorf("mail links to %q, which the reader does not have", href)
		}
	})
	styled := 0
	walk(root, func(n *html.Node) {
		if _, ok := attr(n, "style"); ok {
			styled++
		}
	})
	if styled < len(sampleMessages()) {
		t.Errorf("only %d styled elements", styled)
	}
}

func TestMailBodyContent(t *testing.T) {
	htmlBody, textBody := MailBody(sampleRoom(), sampleMessages(), berlin(t))
	htmlText := strings.Join(strings.Fields(textOf(parseHTML(t, []byte(htmlBody)))), " ")
	for _, want := range []string{
		"Messages from General ✨", "Public channel · 26 messages · times in Europe/Berlin",
		"Alice Liddell @alice 2021-03-04 06:06 Hello, world!",
		"bold italic strike",
		"bob joined the channel 2021-03-04 06:16",
		"Alice Liddell added @carol",
		"report #1.pdf (application/pdf, 121 KB)",
		"the quarterly report",
		"reply in thread",
		"👍 2 (@bob, @zoë.m)",
		"(edited 2021-03-05 08:36)",
		"2021-03-05 00:36",
	} {
		if !strings.Contains(htmlText, want) {
			t.Errorf("HTML body lacks %q", want)
		}
	}
	for _, want := range []string{
		"Messages from General ✨\n",
		"\n2021-03-04 06:06  Alice Liddell (@alice)\n    Hello, world!\n",
		"\n2021-03-04 06:07  bob\n    first line\n    second line\n\n    after a blank line\n",
		"    *bold* _italic_ ~strike~",
		"\n2021-03-04 06:16  bob joined the channel\n",
		"\n2021-03-04 06:18  Alice Liddell (@alice) changed the room name to “new-name”\n",
		"    [file] report #1.pdf (application/pdf, 121 KB)\n    > the *quarterly* report\n",
		"    ↳ reply in thread\n",
		"    Reactions: 👍 2 (@bob, @zoë.m) · :custom: 1 (@alice) · 🎉 1 (@bob)\n",
		"    > Example site <https://example.com/>\n",
		"    > > zoë.m:\n    > > nested quote\n",
		"\n2021-03-05 00:36  bob\n",
	} {
		if !strings.Contains(textBody, want) {
			t.Errorf("text body lacks %q", want)
		}
	}
	if strings.Contains(textBody, "javascript:") && !strings.Contains(textBody, "[click](javascript:alert(1))") {
		t.Errorf("text body shows a javascript: link outside the message text")
	}
	if strings.Contains(textBody, "Bad link <") {
		t.Errorf("text body shows a non-http title link")
	}
}

func TestMailBodyDefaultsToUTC(t *testing.T) {
	msgs := []chat.Message{{ID: "m1", Msg: "hi", U: alice, TS: time.Date(2021, 3, 4, 23, 30, 0, 0, time.UTC)}}
	htmlBody, textBody := MailBody(chat.Room{ID: "r", Type: chat.RoomGroup, Name: "secret"}, msgs, nil)
	if !strings.Contains(textBody, "Private group · 1 message · times in UTC") || !strings.Contains(textBody, "2021-03-04 23:30") {
		t.Errorf("text body:\n%s", textBody)
	}
	if !strings.Contains(htmlBody, "2021-03-04 23:30") {
		t.Errorf("HTML body not in UTC")
	}
}

func TestMailBodyEmpty(t *testing.T) {
	htmlBody, textBody := MailBody(sampleRoom(), nil, nil)
	if !strings.Contains(textBody, "0 messages") || !strings.Contains(htmlBody, "0 messages") {
		t.Errorf("empty mail does not say so")
	}
	checkSafe(t, []byte(htmlBody), true)
}
