package inbound

import "testing"

func TestHTMLText(t *testing.T) {
	for _, tc := range []struct{ name, in, want string }{
		{"entities", `<p>a &amp; b &lt;c&gt; &quot;d&quot; &#xD55C;&#44544; &nbsp;e</p>`, `a & b <c> "d" 한글 e`},
		{"white space collapses", "<div>  one\n  two\t three </div><div>four</div>", "one two three\nfour"},
		{"br and empty lines", "a<br>b<br><br>c", "a\nb\n\nc"},
		{"paragraphs", "<p>one</p><p>two</p>", "one\n\ntwo"},
		{"lists", "<ol><li>first</li><li>second</li></ol>after", "- first\n- second\n\nafter"},
		{"pre keeps spacing", "<pre>a  b\n  c</pre>", "a  b\n  c"},
		{"table cells", "<table><tr><td>host</td><td>state</td></tr><tr><td>db-1</td><td>down</td></tr></table>", "host state\ndb-1 down"},
		{"nested blockquotes", "reply<blockquote>outer<blockquote>inner</blockquote>back</blockquote>end",
			"reply\n> outer\n>> inner\n> back\nend"},
		{"skipped elements", "<head><title>t</title><style>p{}</style></head><script>x()</script><p>text</p><svg><text>s</text></svg>", "text"},
		{"inline elements", `<p>check <b>db</b>-<i>main</i> <a href="https://x">now</a></p>`, "check db-main now"},
		{"unclosed and stray tags", "</div></blockquote><p>a<div>b", "a\nb"},
		{"korean", "<div>확인했습니다.</div><div><br></div><div>복구 중</div>", "확인했습니다.\n\n복구 중"},
		{"empty", "", ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := htmlText(tc.in); got != tc.want {
				t.Errorf("htmlText(%q)\n got %q\nwant %q", tc.in, got, tc.want)
			}
		})
	}
}
