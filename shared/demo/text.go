package demo

// Filler text. "{user}" becomes a mention of a member of the room, "{room}"
// a channel link and "{n}" a number. The lines mix plain text, markdown, emoji and several
// scripts so that any slice of the demo exercises a renderer.

// pools maps each room to the lines its filler is drawn from.
func pools() map[string][]string {
	return map[string][]string{
		GeneralRoomID:    chatterGeneral(),
		RandomRoomID:     chatterRandom(),
		ProjectRoomID:    chatterProject(),
		SecretRoomID:     chatterHR(),
		DirectRoomID:     chatterDirect(),
		DiscussionRoomID: chatterRelease(),
		TeamRoomID:       chatterEngineering(),
	}
}

func chatterGeneral() []string {
	return []string{
		"Good morning everyone! ☀️",
		"Has anyone seen the new dashboard?",
		"Reminder: all-hands at 15:00 UTC today.",
		"{user} could you share the slides from yesterday?",
		"Thanks {user}, that was *really* helpful.",
		"The coffee machine on the 3rd floor is fixed :coffee:",
		"Please update your profile pictures before Friday.",
		"Lunch at the Thai place? 🍜",
		"I'll be out of office next week, {user} is covering for me.",
		"Great job on the release, team! :tada:",
		"Can we move the sync to Thursday?",
		"FYI: the VPN will be down for maintenance tonight.",
		"Welcome aboard, {user}! 👋",
		"Who's joining the hackathon? Sign-up sheet is in {room}.",
		"Quick poll: tabs or spaces? :thinking:",
		"The quarterly report is out: _read it before the meeting_.",
		"Does anyone know the Wi-Fi password for the guest network?",
		"Heads up: `main` is frozen until the release is tagged.",
		"I pushed the fix, see ~~the old ticket~~ the new one.",
		"Happy birthday {user}! 🎂🎉",
		"Meeting notes are in the wiki, section **Decisions**.",
		"Is the office open on the public holiday?",
		"Bonjour à tous ! Le café est prêt ☕",
		"Guten Morgen! Wer kommt heute ins Büro?",
		"¡Buenos días! ¿Alguien tiene el enlace de la reunión?",
		"God morgon! Fika kl. 15 i köket.",
		"早上好！今天下午有培训。",
		"おはようございます！今日もよろしくお願いします。",
		"صباح الخير للجميع!",
		"בוקר טוב לכולם!",
		"Remember to log your hours by end of month ⏰",
		"The printer is out of toner again :sweat_smile:",
		"New starter this Monday, please say hi to {user}.",
		"Parking lot will be closed on Saturday.",
		"Thanks for the flowers, everyone ❤️",
		"Link to the town hall recording: https://video.example.com/townhall",
		"We hit 10k users today! 🚀🚀🚀",
		"Please don't share customer data in public channels.",
		"> Be kind, be curious\nOur motto for this year.",
		"Two things:\n- fill the survey\n- book your holidays",
		"Anyone up for a run after work? 🏃",
		"{user}, {user}: the demo is at 11 sharp.",
		"Ok 👍",
		"lol",
		"Sounds good to me.",
		"+1",
	}
}

func chatterRandom() []string {
	return []string{
		"Cat picture of the day 🐈",
		"What are you all reading at the moment? 📚",
		"Best pizza topping: pineapple 🍍 (fight me)",
		"It's snowing in Oslo ❄️",
		"Weekend plans? I'm going hiking ⛰️",
		"Just discovered this song, on repeat 🎶",
		"Anyone watched the match last night? ⚽",
		"Kaffe eller te? ☕🍵",
		"TIL: octopuses have three hearts 🐙",
		"Recipe for smørrebrød, anyone?",
		"火锅 tonight? 🍲",
		"Friday! 🎉",
		"{user} you were right about the movie, it was great.",
		"Random thought: why is it called a *building* if it's already built?",
		"I made sourdough again 🍞",
	}
}

func chatterProject() []string {
	return []string{
		"Phoenix status: on track ✅",
		"Updated the roadmap, please review.",
		"{user} the budget numbers look off in Q3, can you check?",
		"Blocked on legal review for the landing page.",
		"Design mockups v3 are in the drive.",
		"We need a decision on pricing by Friday.",
		"Launch checklist:\n- [x] copy\n- [x] visuals\n- [ ] press release",
		"Keep this confidential until the announcement please 🤫",
		"Vendor call moved to 14:00.",
		"Nice work on the prototype, {user}!",
		"Risk: the API migration might slip a week.",
		"Milestone M2 reached 🎯",
	}
}

func chatterHR() []string {
	return []string{
		"Reminder: performance reviews start next month.",
		"New parental leave policy is drafted.",
		"Please keep salary discussions in this group only.",
		"{user} can you prepare the onboarding pack?",
		"הצעת העבודה נשלחה למועמד.",
		"تمت الموافقة على طلب الإجازة.",
		"Interview panel for Friday: Zoë, Noa, Amira.",
		"Benefits enrollment closes on the 30th.",
		"שאלה לגבי ימי חופשה — אפשר לדבר מחר?",
		"يرجى تحديث بيانات الموظفين قبل نهاية الشهر.",
	}
}

func chatterDirect() []string {
	return []string{
		"Hi Alice, do you have a minute?",
		"Sure, what's up?",
		"Can you give me access to the design drive?",
		"Done ✅",
		"Thanks! 🙏",
		"Lunch tomorrow?",
		"Can't tomorrow, Thursday?",
		"Thursday works.",
		"Did you see my email about the offsite?",
		"Yes — *love* the idea 😍",
		"Reminder: your password expires in 3 days.",
		"Ok, changing it now.",
	}
}

func chatterRelease() []string {
	return []string{
		"Feature freeze on the 15th?",
		"We still need release notes for the export feature.",
		"QA sign-off expected Wednesday.",
		"Blocking bug: exports of big rooms time out. Fix in review.",
		"Changelog draft:\n* HTML export\n* JSON export\n* Email delivery",
		"{user} can you own the migration guide?",
		"RC1 is tagged 🏷️",
		"Go/no-go meeting tomorrow at 10:00 UTC.",
	}
}

func chatterEngineering() []string {
	return []string{
		"Deploy to staging done 🚢",
		"CI is red again, looking into it.",
		"PR #{n} needs a second review.",
		"Latency p99 is back under 200 ms 📉",
		"Incident resolved, post-mortem tomorrow.",
		"`go test ./...` takes 40s now, nice.",
		"Who owns the Lambda alarms?",
		"Bumped the SDK to the latest version.",
		"Please rotate your access keys this week 🔑",
		"Rollback complete, root cause was a bad config flag.",
		"{user} the DynamoDB table needs a new index.",
		"数据库迁移已完成。",
		"On-call handover: quiet week 😴",
	}
}

func threadReplies() []string {
	return []string{
		"Agreed.",
		"+1",
		"Good point!",
		"I'll take care of it.",
		"Can you elaborate?",
		"Done ✅",
		"Not sure about that 🤔",
		"Let's discuss tomorrow.",
		"Thanks!",
		"See my comment above.",
		"Merci !",
		"Danke 🙏",
		"好的",
		"👍",
		"Interesting, I had not thought of that.",
		"Ping {user}",
	}
}

func reactionEmoji() []string {
	return []string{
		":+1:", ":tada:", ":heart:", ":joy:", ":eyes:", ":rocket:",
		":white_check_mark:", ":pray:", ":100:", ":flag_se:", ":thinking:", ":fire:",
	}
}
