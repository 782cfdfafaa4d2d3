package inbound

import "testing"

func TestStripQuoted(t *testing.T) {
	for _, tc := range []struct {
		name, in, want string
	}{
		{
			name: "plain text stays",
			in:   "복구 완료했습니다.\n\n확인 부탁드립니다.  \n",
			want: "복구 완료했습니다.\n\n확인 부탁드립니다.",
		},
		{
			name: "gmail english top post",
			in: "Restarted db-main-1, writes are back.\n\n" +
				"On Tue, Nov 24, 2026 at 3:00 PM relay <relay@example.com> wrote:\n\n" +
				"> Primary database db-main-1 is not answering.\n> Writes fail.\n",
			want: "Restarted db-main-1, writes are back.",
		},
		{
			name: "gmail english attribution wrapped over two lines",
			in: "On it.\n\nOn Tue, Nov 24, 2026 at 3:00 PM Hong Gildong, the on-call engineer <\n" +
				"hong.gildong@example.com> wrote:\n> original\n",
			want: "On it.",
		},
		{
			name: "gmail korean",
			in: "확인했습니다. 지금 복구 중입니다.\n\n" +
				"2026년 11월 24일 (화) 오후 3:00, 홍길동 <hong@example.com>님이 작성:\n\n" +
				"> 주 데이터베이스가 응답하지 않습니다.\n>\n> -- \n> relay\n",
			want: "확인했습니다. 지금 복구 중입니다.",
		},
		{
			name: "gmail korean wrapped",
			in:   "네.\n\n2026년 11월 24일 (화) 오후 3:00, relay 비상 연락 시스템 알림 발송 계정 <\nrelay@example.com>님이 작성:\n> 원문\n",
			want: "네.",
		},
		{
			name: "apple mail korean",
			in:   "1\n\n2026. 11. 24. 오후 3:00, 홍길동 <hong@example.com> 작성:\n\n> 안전하면 1을 답장하세요.\n",
			want: "1",
		},
		{
			name: "interleaved reply keeps text between quotes",
			in: "On Tue, Nov 24, 2026 at 3:00 PM relay <relay@example.com> wrote:\n" +
				"> Is the replica healthy?\n" +
				"Yes, lag is 0.\n" +
				"> Can we fail over?\n" +
				"\n" +
				"Not yet, waiting for the DBA.\n",
			want: "Yes, lag is 0.\n\nNot yet, waiting for the DBA.",
		},
		{
			name: "outlook original message",
			in: "Acknowledged.\r\n\r\n-----Original Message-----\r\nFrom: relay <relay@example.com>\r\n" +
				"Sent: Tuesday, November 24, 2026 3:00 PM\r\nTo: Kim\r\nSubject: [CRITICAL] db-outage\r\n\r\nPrimary database...\r\n",
			want: "Acknowledged.",
		},
		{
			name: "outlook korean original message",
			in:   "확인.\n\n-----원본 메시지-----\n보낸 사람: relay <relay@example.com>\n보낸 날짜: 2026년 11월 24일 화요일 오후 3:00\n\n원문\n",
			want: "확인.",
		},
		{
			name: "outlook header block with underscores",
			in: "Working on it.\n\nGet Outlook for iOS\n________________________________\nFrom: relay <relay@example.com>\n" +
				"Sent: Tuesday, November 24, 2026 3:00:00 PM\nTo: Kim <kim@example.com>\nSubject: db-outage\n\nPrimary...\n",
			want: "Working on it.",
		},
		{
			name: "outlook korean header block without separator",
			in:   "조치 완료.\n\n보낸 사람: relay <relay@example.com>\n보낸 날짜: 2026년 11월 24일 화요일 오후 3:00\n받는 사람: 김민준\n제목: 긴급\n\n원문\n",
			want: "조치 완료.",
		},
		{
			name: "signature separator",
			in:   "Done.\n\n-- \nKim Minjun\nSRE, +82 10 1234 5678\n",
			want: "Done.",
		},
		{
			name: "signature separator without its space",
			in:   "Done.\n--\nKim\n",
			want: "Done.",
		},
		{
			name: "sent from my iphone",
			in:   "Safe.\n\nSent from my iPhone\n\n> Reply 1 if safe\n",
			want: "Safe.",
		},
		{
			name: "iphone korean",
			in:   "안전합니다.\n\niPhone에서 보냄\n",
			want: "안전합니다.",
		},
		{
			name: "galaxy korean",
			in:   "안전합니다.\nGalaxy에서 보냄\n",
			want: "안전합니다.",
		},
		{
			name: "samsung korean long form",
			in:   "도착했습니다.\n\nSamsung Galaxy 스마트폰에서 보냄.\n",
			want: "도착했습니다.",
		},
		{
			name: "attribution with date before unquoted original",
			in:   "Fixed.\n\nOn Tue, Nov 24, 2026 at 3:00 PM relay <relay@example.com> wrote:\nPrimary database is not answering.\n",
			want: "Fixed.",
		},
		{
			name: "a sentence ending in wrote: is kept",
			in:   "On the ticket I wrote:\nthe fix is in review.\n",
			want: "On the ticket I wrote:\nthe fix is in review.",
		},
		{
			name: "a numbered korean list item is kept",
			in:   "1. 원인 분석 작성:\n로그를 확인했습니다.\n",
			want: "1. 원인 분석 작성:\n로그를 확인했습니다.",
		},
		{
			name: "a sentence starting with sent from is kept",
			in:   "Sent from the data center: all racks have power.\n",
			want: "Sent from the data center: all racks have power.",
		},
		{
			name: "a korean sentence ending in 보냄 is kept",
			in:   "서버실에서 보냄\n",
			want: "서버실에서 보냄",
		},
		{
			name: "a forward is kept",
			in: "FYI, from the vendor:\n\n---------- Forwarded message ---------\nFrom: Vendor <noc@vendor.example>\n" +
				"Date: Tue, Nov 24, 2026 at 2:50 PM\nSubject: outage\n\nOur link to your DC is down.\n",
			want: "FYI, from the vendor:\n\n---------- Forwarded message ---------\nFrom: Vendor <noc@vendor.example>\n" +
				"Date: Tue, Nov 24, 2026 at 2:50 PM\nSubject: outage\n\nOur link to your DC is down.",
		},
		{
			name: "only a quote",
			in:   "> Reply 1 if safe\n> relay\n",
			want: "",
		},
		{
			name: "blank runs squeezed",
			in:   "\n\n\na\n\n\n\nb\n\n",
			want: "a\n\nb",
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := StripQuoted(tc.in); got != tc.want {
				t.Errorf("StripQuoted:\n got %q\nwant %q", got, tc.want)
			}
		})
	}
}
