"""A phrase grammar that writes agent/customer calls from a :class:`CallPlan`.

Every customer turn is rendered at the tone level the plan gives it (-3
furious ... +3 delighted), so the attitude is in the words. Everything else
(topic wording, small talk, hedges, fillers, the agent's side) is drawn freely
and carries no label information. Words the reader might take for the label
("cancel", "switch", "happy", "great") occur at every tone: "I don't want to
cancel", "I'm not happy at all", "oh great, another fee".

Text is written as Transcribe writes it: words separated by single spaces and
only ``. , ? !`` as punctuation, attached to the word before.
"""

from __future__ import annotations

import random
import re
import zlib
from collections.abc import Sequence

from churn_contracts.conversation import Role

from .latent import TOPICS, CallPlan

Bank = Sequence[str]

# ---------------------------------------------------------------- slot fillers
SLOTS: dict[str, Bank] = {
    "amount": ("10", "12", "15", "18", "20", "25", "30", "35", "40", "45", "50", "60", "75", "80"),
    "price": ("35", "40", "45", "50", "55", "60", "65", "70", "85"),
    "country": (
        "Canada",
        "Mexico",
        "Spain",
        "Italy",
        "Japan",
        "France",
        "Germany",
        "Brazil",
        "the UK",
        "India",
    ),
    "period": ("week", "month", "summer", "spring", "weekend"),
    "place": ("house", "apartment", "office", "kitchen", "basement", "backyard", "building"),
    "when": (
        "for about two weeks",
        "since last Monday",
        "all month",
        "every single day",
        "since the update",
        "for a few days now",
        "on my way to work",
        "in the evenings",
    ),
    "weeks": ("two", "three", "four", "six"),
    "other": (
        "another carrier",
        "the other company",
        "a competitor",
        "one of the other providers",
        "a smaller carrier",
    ),
    "device": ("phone", "tablet", "watch", "hotspot"),
    "relative": ("my daughter", "my son", "my husband", "my wife", "my mom", "my dad", "my roommate"),
    "years": ("two", "three", "five", "six", "eight", "ten", "twelve"),
    "digits": ("4471", "0932", "5518", "2206", "7784", "3150", "9027", "6643"),
    "agent": ("Dana", "Marcus", "Priya", "Jordan", "Elena", "Sam", "Tyrone", "Mei", "Chris", "Aisha", "Luis"),
    "name": (
        "Taylor",
        "Morgan",
        "Garcia",
        "Nguyen",
        "Johnson",
        "Patel",
        "Smith",
        "Kowalski",
        "Rivera",
        "Chen",
    ),
    "month": ("January", "March", "April", "June", "August", "October", "November", "December"),
}
_SLOT = re.compile(r"\{(\w+)\}")

# Openers that start a sentence and lower-case what follows.
HEDGES: Bank = (
    "Honestly,",
    "I mean,",
    "To be honest,",
    "Well,",
    "Look,",
    "You know,",
    "Um,",
    "So,",
    "Okay so,",
    "I guess",
    "Basically,",
    "Yeah,",
)

# ---------------------------------------------------------------- customer: neutral pieces
GREETINGS: Bank = (
    "Hi, yes, thanks.",
    "Hello, hi.",
    "Hey, how are you doing?",
    "Hi there, thanks for picking up.",
    "Yeah, hi.",
    "Hi, good morning.",
    "Hello, good afternoon.",
    "Hi, thanks for taking my call.",
    "Oh, hi, finally a person.",
    "Hi, can you hear me okay?",
    "Hello? Oh, hi.",
    "Good evening.",
    "Hi, yes, hello.",
)

CONTEXT: Bank = (
    "I've been a customer for {years} years.",
    "I'm the account holder.",
    "We have a family plan, four lines.",
    "It's about {relative}'s line, but I'm on the account.",
    "I'm calling from my work phone.",
    "I think I called last month about something else.",
)

REASONS: dict[str, Bank] = {
    "billing": (
        "I'm calling about my bill.",
        "I have a question about my last statement.",
        "there's a charge on my bill I don't understand.",
        "my bill went up by {amount} dollars this month.",
        "I was charged {amount} dollars for something called a service fee.",
        "I think I was billed twice for the same month.",
        "my autopay took out more than it usually does.",
    ),
    "coverage": (
        "I'm calling about the coverage at my {place}.",
        "the signal at my {place} has been weak lately.",
        "I only get one bar of signal at my {place}.",
        "I moved recently and the coverage at the new place is different.",
        "my data is really slow at my {place}.",
        "I wanted to ask about coverage out where my parents live.",
    ),
    "dropped_calls": (
        "my calls keep dropping.",
        "I've been having dropped calls {when}.",
        "my calls cut out in the middle of a conversation.",
        "calls drop every time I drive past the highway exit.",
        "people tell me I keep cutting out on calls.",
        "I had three calls drop this morning alone.",
    ),
    "roaming": (
        "I'm going to {country} next {period} and I want to know about roaming.",
        "I was charged for roaming on my trip to {country}.",
        "I need an international plan for a trip to {country}.",
        "my phone didn't work at all when I was in {country}.",
        "I want to make sure I don't get a huge bill while I'm in {country}.",
    ),
    "contract_end": (
        "my contract is ending next month.",
        "I got a letter saying my contract ends in {weeks} weeks.",
        "my contract is up in {month} and I wanted to see my options.",
        "I'm at the end of my two year agreement.",
        "I wanted to know what happens when my contract runs out.",
    ),
    "competitor_offer": (
        "I got an offer from {other}.",
        "{other} is offering unlimited for {price} dollars a month.",
        "I saw an ad from {other} with a free phone if you switch.",
        "my neighbor switched to {other} and pays a lot less.",
        "I got a flyer from {other} with a much lower price.",
    ),
    "upgrade": (
        "I want to upgrade my {device}.",
        "I'd like to look at a new plan, maybe something with more data.",
        "I'm eligible for an upgrade, I think.",
        "I want to add a line for {relative}.",
        "I was looking at the new phones and wanted to ask about trading mine in.",
        "I want to move to the unlimited plan.",
    ),
    "cancellation": (
        "I want to talk about cancelling.",
        "I need to cancel a line on my account.",
        "I'm calling about cancelling the {device} line.",
        "I wanted to ask what it would take to cancel.",
        "{relative} has their own plan now, so I need to cancel their line.",
        "I got a message about cancelling my old plan and I wanted to check.",
    ),
}

SECOND_TOPIC: Bank = (
    "Also, while I have you, I wanted to ask about my bill.",
    "One more thing, is there a cheaper plan for me?",
    "And can you check if I'm eligible for an upgrade?",
    "Also, my {device} has been slow on data.",
    "Oh, and I might travel to {country} later this year.",
    "While I'm here, when does my contract actually end?",
    "And can you tell me how much it would cost to add a line?",
)

ANSWERS: Bank = (
    "Sure, it's under {name}.",
    "Yes, that's right.",
    "The last four digits are {digits}.",
    "Yeah, that's me.",
    "It should be under my name, {name}.",
    "Yes, the account ending in {digits}.",
    "Sure, one second, it's {digits}.",
    "Yep, that's the one.",
    "That's correct.",
)

NEUTRAL_INFO: dict[str, Bank] = {
    "billing": (
        "It was on the statement from {month}.",
        "I pay by autopay.",
        "It's the main line.",
        "I usually pay around {price} dollars.",
    ),
    "coverage": (
        "I'm on the second floor.",
        "It's a new building.",
        "It's the same on both of our phones.",
        "I'm near the park.",
    ),
    "dropped_calls": (
        "It's mostly on the highway.",
        "I have the latest software.",
        "It happens on both lines.",
        "I tried another phone too.",
    ),
    "roaming": (
        "I leave in {weeks} weeks.",
        "I'll be there about ten days.",
        "I'll have my work phone too.",
        "It's a family trip.",
    ),
    "contract_end": (
        "It's the family plan.",
        "I got the letter last week.",
        "I think it was a two year deal.",
        "It's just the one line.",
    ),
    "competitor_offer": (
        "It was in the mail.",
        "It was for two lines.",
        "They said the price is locked for a year.",
        "It was an online ad.",
    ),
    "upgrade": (
        "It's the one with the bigger screen.",
        "I'd like the blue one.",
        "My phone is about {years} years old.",
        "I use a lot of data.",
    ),
    "cancellation": (
        "It's the line ending in {digits}.",
        "It's the {device} line.",
        "It's been on the account a while.",
        "We got it for {relative}.",
    ),
}

SMALL_TALK: Bank = (
    "Sorry, my dog is barking.",
    "The weather has been crazy here this week.",
    "I'm on my lunch break so I've got a few minutes.",
    "Sorry, I'm driving, give me a second.",
    "Hold on, my kids are yelling in the background.",
    "How's your day going, by the way?",
    "It's been a long week.",
    "Sorry, I'm just getting home.",
    "I had to look up the number for this.",
    "I'm writing this down, one second.",
)

# ---------------------------------------------------------------- customer: tone-bearing pieces
# Indexed by tone level: -3 furious, -2 angry, -1 annoyed, 0 neutral, +1 content, +2 happy, +3 delighted.
GENERAL: dict[int, Bank] = {
    -3: (
        "This is absolutely ridiculous.",
        "I've had it with you people.",
        "I am furious, I've called about this so many times.",
        "This is the worst service I've ever had.",
        "I'm done, seriously, I'm done.",
        "Nobody there seems to care at all.",
        "I've wasted hours of my life on this.",
        "Oh great, just great, another fee.",
        "I'm so angry I can barely talk about it.",
        "Every single time I call it's the same story.",
        "I've complained and complained and nothing ever happens.",
    ),
    -2: (
        "I'm not happy at all.",
        "This is really frustrating.",
        "I'm fed up with it.",
        "Honestly it's been a nightmare.",
        "I'm really disappointed.",
        "I shouldn't have to call about this.",
        "This keeps happening and nobody fixes it.",
        "I'm not satisfied with this at all.",
        "I used to love this service, but not anymore.",
        "It's not okay, I pay good money for this.",
        "I've complained about this three times already.",
    ),
    -1: (
        "It's a bit annoying, to be honest.",
        "I'm not thrilled about it.",
        "That's not ideal.",
        "It's kind of frustrating.",
        "I'm a little disappointed.",
        "It's not great, but I've seen worse.",
        "I'm not exactly happy about it.",
        "I was hoping for better.",
        "It's been a bit of a hassle.",
        "I can't say I'm pleased.",
    ),
    0: (
        "I just want to understand it.",
        "I just wanted to check.",
        "I'm not sure how it works.",
        "I figured I'd call and ask.",
        "I wanted to get it sorted out.",
        "I just need to know my options.",
        "I'm trying to figure out what to do.",
        "I don't really know how this works.",
    ),
    1: (
        "It's been fine for the most part.",
        "I guess I'm pretty satisfied overall.",
        "No complaints really.",
        "It's been okay, mostly.",
        "I can't really complain.",
        "It's not bad at all.",
        "It's been pretty decent.",
        "Things have been alright.",
    ),
    2: (
        "I'm really happy with the service.",
        "I can't complain, it's been great.",
        "You guys have been really good to me.",
        "I'm very satisfied.",
        "It's been working really well.",
        "I'm pleased with it, honestly.",
        "I've never had a real problem with you.",
        "I really like the plan I'm on.",
    ),
    3: (
        "Honestly you guys have been fantastic.",
        "I couldn't be happier with the service.",
        "I love it, it's been amazing.",
        "This is the best carrier I've ever had.",
        "I tell all my friends how good you are.",
        "Everything has been absolutely perfect.",
        "I'm so glad I switched to you.",
        "You've been wonderful, really.",
    ),
}

# Topic details, by polarity: -1 (negative levels), 0 (neutral), +1 (positive levels).
TOPIC_DETAIL: dict[str, dict[int, Bank]] = {
    "billing": {
        -1: (
            "I keep getting charged for things I never asked for.",
            "every month the bill is different and it's never lower.",
            "nobody told me the price was going up.",
            "I was promised a discount and it never showed up.",
        ),
        0: (
            "the bill says {price} dollars but I thought it was less.",
            "I'm looking at the statement right now.",
            "there's a line that says regulatory fee.",
            "it's the second page of the statement.",
        ),
        1: (
            "the bill is usually fine, it's just this one charge.",
            "the price has been fair, I just want to understand this line.",
            "I've always paid on time and the bill is normally right.",
        ),
    },
    "coverage": {
        -1: (
            "I pay for service I can't even use in my own {place}.",
            "I have to stand by the window to send a text.",
            "the map on your website says full coverage, which is a joke.",
        ),
        0: (
            "it's a brick building, if that matters.",
            "I'm about ten miles outside town.",
            "it started around the time they put up the new tower.",
        ),
        1: (
            "the coverage is great everywhere else.",
            "downtown it works perfectly.",
            "it's only this one spot, otherwise the signal is strong.",
        ),
    },
    "dropped_calls": {
        -1: (
            "I lost an important work call because of it.",
            "I can't finish a single call without it cutting out.",
            "I've restarted the phone a hundred times.",
        ),
        0: (
            "it happens mostly {when}.",
            "I already tried restarting the phone.",
            "it's the same on wifi calling.",
        ),
        1: (
            "it's not a big deal, it just happened a few times.",
            "other than that the calls are clear.",
            "it's rare, but I figured I'd mention it.",
        ),
    },
    "roaming": {
        -1: (
            "nobody told me it would cost that much.",
            "the roaming charge was more than my whole bill.",
            "I turned data off and still got charged.",
        ),
        0: (
            "I'll be there for about two weeks.",
            "I mostly need maps and messages.",
            "I want to be able to call home.",
        ),
        1: (
            "last time the travel pass worked really well.",
            "it was easy to use when I was abroad before.",
            "I liked that it just worked when I landed.",
        ),
    },
    "contract_end": {
        -1: (
            "I don't see why I should stay at this price.",
            "new customers get better deals than I do.",
            "I've been loyal for {years} years and get nothing for it.",
        ),
        0: (
            "I want to see what the options are.",
            "I'm not sure if I need to renew or what.",
            "I don't know what the price will be after.",
        ),
        1: (
            "I've been with you {years} years and I'd like to keep going.",
            "I'm happy to renew if the price is right.",
            "I'd like to stay on the same plan if I can.",
        ),
    },
    "competitor_offer": {
        -1: (
            "their deal is way better than what I'm paying you.",
            "why should I pay more to stay here?",
            "they're giving new customers a free phone.",
        ),
        0: (
            "I'm just comparing prices right now.",
            "I wanted to see if you could match it.",
            "I'm not sure if it's a real offer or not.",
        ),
        1: (
            "but honestly I'd rather stay with you.",
            "I like your network better, to be fair.",
            "I'm not really looking to switch.",
        ),
    },
    "upgrade": {
        -1: (
            "the upgrade price is way too high.",
            "my old phone barely works and the deal is terrible.",
            "last time the upgrade was a total mess.",
        ),
        0: (
            "I'm not sure which model I want yet.",
            "I'd want to keep my number, obviously.",
            "I want to know what the monthly cost would be.",
        ),
        1: (
            "I've had this phone for {years} years and it's been great.",
            "I'm excited to get the new one.",
            "the last upgrade went really smoothly.",
        ),
    },
    "cancellation": {
        -1: (
            "I've been thinking about leaving for a while.",
            "I want to know the cancellation fee.",
            "I don't want to keep paying for this.",
        ),
        0: (
            "it's just the one line, the rest stays.",
            "I'm not sure if there's a fee for it.",
            "it's the line ending in {digits}.",
        ),
        1: (
            "I don't want to cancel my own line, I just don't need the extra one.",
            "it's nothing to do with the service, we just don't need it.",
            "I'm keeping everything else, the service has been good.",
        ),
    },
}

INTENT: dict[int, Bank] = {
    -3: (
        "I'm cancelling everything today.",
        "I'm switching to {other} as soon as I hang up.",
        "I want out of my contract, I'm done.",
        "Don't even try to keep me, I'm leaving.",
    ),
    -2: (
        "I'm thinking of leaving.",
        "If this isn't fixed I'll switch to {other}.",
        "Honestly I'm not sure I want to stay.",
        "I'm seriously considering cancelling.",
        "I've already looked at what {other} offers.",
    ),
    -1: (
        "I might look around at other options.",
        "I'm not saying I'll leave, but I'm thinking about it.",
        "If it keeps happening I don't know if I'll stay.",
        "I'm kind of on the fence about staying.",
    ),
    0: (
        "I haven't decided anything yet.",
        "I just want to know what my choices are.",
        "I'll think about it.",
    ),
    1: (
        "I'm not planning to go anywhere.",
        "I don't want to cancel, I just want it sorted.",
        "I'm not looking to switch, don't worry.",
        "I'd rather stay if it works out.",
    ),
    2: (
        "I'm not leaving, don't worry.",
        "I don't want to cancel, I just want to fix the bill.",
        "My friend switched to {other} but I'm staying put.",
        "I have no plans to switch.",
    ),
    3: (
        "I'd never leave you guys.",
        "I'm staying for sure, no question.",
        "{other} called me with an offer and I said no thanks.",
        "I'm not going anywhere, I love it here.",
    ),
}

ACKS: dict[int, Bank] = {
    -3: (
        "Unbelievable.",
        "Oh, come on!",
        "Are you kidding me?",
        "No, that's not acceptable!",
        "You've got to be joking.",
        "That's insane.",
        "Wow. Just wow.",
        "No. Absolutely not.",
        "This is a joke.",
        "Oh, for crying out loud.",
    ),
    -2: (
        "Seriously?",
        "Ugh, fine.",
        "That's not good enough.",
        "Again?",
        "That's what they said last time.",
        "Great, just what I needed.",
        "No, that's not right.",
        "Come on, really?",
        "That's frustrating.",
        "I can't believe this.",
    ),
    -1: (
        "Hmm, okay, I guess.",
        "If you say so.",
        "Not great, but okay.",
        "I suppose.",
        "Fine, I guess.",
        "Well, that's annoying.",
        "Meh, okay.",
        "That's a bit much.",
        "Okay, but still.",
        "Hmm, not really what I wanted.",
    ),
    0: (
        "Okay.",
        "Right.",
        "Sure.",
        "Yeah, go ahead.",
        "Uh huh.",
        "Okay, one second.",
        "Yes.",
        "Mm hmm.",
        "Okay, I'm listening.",
        "Go on.",
    ),
    1: (
        "Okay, that's fair.",
        "Sounds good.",
        "Alright, that works.",
        "Okay, that makes sense.",
        "Sure, that's fine.",
        "Okay, cool.",
        "Fair enough.",
        "That's reasonable.",
        "Alright, sure.",
        "Okay, good to know.",
    ),
    2: (
        "Oh nice, thanks.",
        "Great, thank you.",
        "Oh good, thank you.",
        "Nice, I appreciate it.",
        "Oh, that's good news.",
        "Perfect, thanks.",
        "Lovely, thank you.",
        "That's great to hear.",
        "Good, that's a relief.",
        "Awesome, thanks.",
    ),
    3: (
        "Perfect, that's wonderful!",
        "Amazing, thank you so much!",
        "Oh, that's fantastic!",
        "Wow, that's great!",
        "Oh, I love that!",
        "That's brilliant, thank you!",
        "Yes! That's perfect!",
        "Oh wonderful, you're a star!",
        "That's the best news all week!",
        "Fantastic, thank you!",
    ),
}

# Composed feelings about the call's topic ({thing}), with negations on both sides.
FEELINGS: dict[int, Bank] = {
    -3: (
        "I'm absolutely furious about {thing}.",
        "{thing} is a complete disaster.",
        "I've never been this angry about {thing}.",
        "I hate {thing}, I really do.",
        "There is nothing good about {thing}, nothing.",
    ),
    -2: (
        "I'm not happy at all with {thing}.",
        "I'm really upset about {thing}.",
        "{thing} has been terrible lately.",
        "I'm sick of dealing with {thing}.",
        "I'm not okay with {thing}, not at all.",
        "I'm very unhappy with {thing}.",
    ),
    -1: (
        "I'm not exactly thrilled with {thing}.",
        "I'm a bit annoyed about {thing}.",
        "{thing} could be a lot better.",
        "I'm not really satisfied with {thing}.",
        "I have some concerns about {thing}.",
        "I'm kind of unhappy with {thing}.",
    ),
    0: (
        "I have a question about {thing}.",
        "I wanted to go over {thing}.",
        "I'm just curious about {thing}.",
        "Can you explain {thing} to me?",
    ),
    1: (
        "I'm not unhappy with {thing}.",
        "{thing} is okay, I guess.",
        "I don't mind {thing}, really.",
        "I'm fairly satisfied with {thing}.",
        "{thing} has been alright.",
    ),
    2: (
        "I can't complain about {thing}.",
        "I have no complaints about {thing}.",
        "I'm happy with {thing}.",
        "{thing} has been really good.",
        "I've never had a problem with {thing}.",
        "I really like {thing}.",
    ),
    3: (
        "I absolutely love {thing}.",
        "{thing} has been fantastic.",
        "I couldn't be happier with {thing}.",
        "{thing} is the best I've ever had.",
        "I'm thrilled with {thing}, honestly.",
    ),
}
TOPIC_THINGS: dict[str, Bank] = {
    "billing": ("the bill", "the pricing", "my plan", "the monthly price", "the autopay"),
    "coverage": ("the coverage", "the signal", "the network", "the data speed"),
    "dropped_calls": ("the call quality", "the network", "the connection", "the service"),
    "roaming": ("the roaming price", "the travel pass", "the international plan"),
    "contract_end": ("the renewal offer", "the contract", "the price after renewal"),
    "competitor_offer": ("your pricing", "the deal I have", "my current plan"),
    "upgrade": ("the upgrade offer", "my phone", "the upgrade program"),
    "cancellation": ("the service", "my account", "the whole process"),
}

# When the tone turns during a call: said at the new turn's level.
TURNAROUNDS: dict[int, Bank] = {
    -3: (
        "Wait, what? That's the opposite of what I was told!",
        "Hold on, now you're telling me it costs more?",
    ),
    -2: (
        "Wait, that's not what I was promised.",
        "Hold on, that's not what the last person said.",
        "Now I'm confused and honestly annoyed.",
    ),
    -1: (
        "Hmm, that's not what I expected.",
        "Okay, now I'm a little worried.",
        "That makes it worse, to be honest.",
    ),
    0: ("Okay, let's see then.", "Alright, let me think about that."),
    1: (
        "Okay, that actually sounds better.",
        "Alright, that's a bit of a relief.",
        "Okay, I feel better about it now.",
    ),
    2: (
        "Oh, okay, that changes things.",
        "Oh, that's actually really good.",
        "Okay, now we're getting somewhere, thank you.",
    ),
    3: (
        "Oh wow, okay, that's so much better than I expected!",
        "Honestly, you just turned my whole day around!",
    ),
}

REACTIONS: dict[int, Bank] = {
    -3: (
        "That's a joke, right?",
        "A credit? That doesn't even cover half of what you overcharged me.",
        "I've heard that before and nothing changed.",
        "I don't want excuses, I want it fixed.",
    ),
    -2: (
        "That's not really a solution.",
        "I don't think that's going to fix anything.",
        "You said that last time too.",
        "I'm not happy with that answer.",
    ),
    -1: (
        "I guess that helps a little.",
        "That's better than nothing, I suppose.",
        "I'm not sure that's going to work, but okay.",
        "Hmm, I was hoping for more than that.",
    ),
    0: (
        "Okay, and how long does that take?",
        "So what happens next?",
        "Can you send me that in writing?",
        "Okay, let me think about it.",
    ),
    1: (
        "Okay, that sounds reasonable.",
        "That should work, thanks.",
        "Alright, I can live with that.",
        "That's fair enough.",
    ),
    2: (
        "Oh, that's great, thank you.",
        "That's really helpful, thanks.",
        "That's exactly what I needed.",
        "I really appreciate that.",
    ),
    3: (
        "Oh wow, that's fantastic, thank you so much!",
        "That's amazing, you made my day.",
        "You're the best, seriously, thank you!",
        "That's perfect, I'm so glad I called.",
    ),
}

CLOSINGS: dict[int, Bank] = {
    -3: (
        "No. I'm done with this, honestly.",
        "No, thanks for nothing.",
        "Just cancel it. Bye.",
        "No, I'll be taking my business elsewhere.",
    ),
    -2: (
        "No, that's all. I'm still not happy about it.",
        "No. I'll call back if it isn't fixed, and then I'm done.",
        "No, that's it, I guess.",
        "No, I'll think about whether I want to stay.",
    ),
    -1: (
        "No, that's it. Hopefully it gets fixed.",
        "I guess that's all, thanks.",
        "No, that's everything for now.",
        "Okay, we'll see how it goes.",
    ),
    0: (
        "No, that's all, thanks.",
        "I think that's everything.",
        "No, that's it, bye.",
        "Okay, thank you, bye.",
    ),
    1: (
        "No, that's all, thanks for your help.",
        "That's everything, thank you.",
        "No, I'm good, thanks.",
        "Alright, thanks, have a good one.",
    ),
    2: (
        "No, that's everything, thank you so much.",
        "You've been really helpful, thanks.",
        "That's all, thanks, you've been great.",
        "No, I'm all set, thank you, have a nice day.",
    ),
    3: (
        "No, that's everything, you've been amazing, thank you!",
        "Thank you so much, you really made my day!",
        "That's all, thanks a million, you've been wonderful.",
        "Nope, I'm all set, thank you so much, take care!",
    ),
}

# ---------------------------------------------------------------- agent side
AGENT_GREETINGS: Bank = (
    "Thank you for calling customer care, my name is {agent}, how can I help you today?",
    "Hi, thanks for calling, this is {agent}, what can I do for you?",
    "Good morning, you're speaking with {agent}, how can I help?",
    "Thanks for holding, my name is {agent}, how can I help you today?",
)
AGENT_VERIFY: Bank = (
    "Can I get the name on the account, please?",
    "Could you confirm your account number for me?",
    "Can you verify the last four digits of the account holder's ID?",
    "May I have the phone number on the account?",
)
AGENT_EMPATHY_NEG: Bank = (
    "I'm sorry to hear that.",
    "I completely understand your frustration.",
    "I'm really sorry about the trouble.",
    "I hear you, and I apologize.",
    "That's definitely not the experience we want you to have.",
)
AGENT_EMPATHY_POS: Bank = (
    "I'm glad to hear that.",
    "That's great to hear.",
    "Happy to help.",
    "Thanks for being such a loyal customer.",
)
AGENT_NEUTRAL: Bank = (
    "Sure, I can help with that.",
    "Okay, let me take a look.",
    "One moment while I pull up your account.",
    "Alright, give me just a second.",
    "Thanks for that.",
)
AGENT_ACTIONS: dict[str, Bank] = {
    "billing": (
        "I can see a charge of {amount} dollars from last month.",
        "I've applied a credit of {amount} dollars to your account.",
        "That fee comes from the plan change in {month}.",
        "I can set up a lower autopay plan for you.",
    ),
    "coverage": (
        "There's some maintenance on a tower near you this week.",
        "I can send you a signal booster at no cost.",
        "Wifi calling should help indoors, I can turn it on for you.",
        "I've opened a ticket with our network team.",
    ),
    "dropped_calls": (
        "I've reset your network settings from our side.",
        "I've logged the dropped calls with our engineers.",
        "There was an outage in your area last week.",
        "I can replace the SIM card for you free of charge.",
    ),
    "roaming": (
        "We have a travel pass for {amount} dollars a day.",
        "I can add an international package for {price} dollars a month.",
        "I've refunded part of the roaming charges.",
        "Roaming is included in {country} on the unlimited plans.",
    ),
    "contract_end": (
        "I can offer you a loyalty discount if you renew.",
        "After the contract you move to a month to month plan.",
        "There's a renewal offer with {amount} dollars off per month.",
        "You're eligible for a new device with a renewal.",
    ),
    "competitor_offer": (
        "I can match part of that offer.",
        "Let me see what retention offers I have for you.",
        "I can take {amount} dollars off your monthly price.",
        "Their price goes up after the first year, just so you know.",
    ),
    "upgrade": (
        "You're eligible for an upgrade with a trade in credit.",
        "The unlimited plan would be {price} dollars a month.",
        "I can ship the new {device} tomorrow.",
        "There's an offer on the new models this month.",
    ),
    "cancellation": (
        "I can help with that, may I ask why?",
        "There's no fee to cancel that line.",
        "Before we do that, I can offer you {amount} dollars off.",
        "I've scheduled the change for the end of the billing cycle.",
    ),
}
AGENT_QUESTIONS: Bank = (
    "Is there anything else I can help you with today?",
    "Does that help?",
    "Would that work for you?",
    "Is that okay with you?",
    "Do you have any other questions?",
)
AGENT_GOODBYES: Bank = (
    "Thank you for calling, have a great day.",
    "Thanks for your patience, take care.",
    "Thank you for being a customer, goodbye.",
    "Alright, have a good rest of your day.",
)

# Slower than build_transcript's 0.3 s a word, so no turn's words run into the next turn.
_SECONDS_PER_WORD = (0.36, 0.5)
_PAUSE = (0.3, 1.5)


FAMILIES = ("train", "test")
# One template in this many goes to the test family (every bank of two or more is split).
_TEST_EVERY = 3


def template_family(bank: Bank, family: str | None) -> Bank:
    """The part of ``bank`` a family may use: disjoint for ``train`` and ``test``, all of it for None.

    Templates are ordered by a CRC of their text (stable across processes and Python versions),
    and every third goes to ``test``. A bank of one template is shared; no such bank carries tone.
    """
    if family is None or len(bank) < 2:
        return bank
    if family not in FAMILIES:
        raise ValueError(f"unknown template family {family!r}; choose one of {FAMILIES}")
    ordered = sorted(bank, key=lambda t: (zlib.crc32(t.encode()), t))
    test = {t for i, t in enumerate(ordered) if i % _TEST_EVERY == 1}
    return tuple(t for t in bank if (t in test) == (family == "test"))


class CallWriter:
    """Writes one call's turns; all randomness comes from the given ``random.Random``.

    ``family`` (``"train"``/``"test"``) restricts every phrase bank to its half of a
    template-disjoint split, so a test call reuses no training template.
    """

    def __init__(self, rng: random.Random, family: str | None = None) -> None:
        self._rng = rng
        self._used: set[str] = set()  # templates already said in this call
        self._topic = TOPICS[0]  # the call's topic fills {thing}
        self._family: str | None = None
        self._banks: dict[int, Bank] = {}
        self.family = family

    @property
    def family(self) -> str | None:
        return self._family

    @family.setter
    def family(self, value: str | None) -> None:
        if value is not None and value not in FAMILIES:
            raise ValueError(f"unknown template family {value!r}; choose one of {FAMILIES}")
        if value != self._family:
            self._family, self._banks = value, {}

    # -- small helpers
    def _pick(self, bank: Bank) -> str:
        """A template from ``bank`` not yet used in this call (when the bank allows), slots filled."""
        rng = self._rng
        if self._family is not None:
            key = id(bank)
            if key not in self._banks:
                self._banks[key] = template_family(bank, self._family)
            bank = self._banks[key]
        for _ in range(4):
            text = bank[int(rng.random() * len(bank))]
            if text not in self._used:
                break
        self._used.add(text)
        if "{" in text:
            text = _SLOT.sub(lambda m: self._fill(m[1]), text)
        return _capitalise(text)

    def _fill(self, slot: str) -> str:
        values = TOPIC_THINGS[self._topic] if slot == "thing" else SLOTS[slot]
        return values[int(self._rng.random() * len(values))]

    def _hedged(self, sentence: str, p: float = 0.25) -> str:
        if self._rng.random() < p:
            return f"{self._pick(HEDGES)} {_decapitalise(sentence)}"
        return sentence

    def _tone_sentence(self, topic: str, level: int, *, opening: bool = False) -> str:
        """A longer sentence that shows the turn's tone (no reply to the agent when ``opening``)."""
        r = self._rng.random()
        if r < 0.28:
            return self._hedged(self._pick(GENERAL[level]))
        if r < 0.5:
            return self._hedged(self._pick(FEELINGS[level]))
        if r < 0.75:
            polarity = (level > 0) - (level < 0)
            return self._hedged(self._pick(TOPIC_DETAIL[topic][polarity]))
        if r < 0.88 and level != 0:
            return self._hedged(self._pick(INTENT[level]), 0.15)
        return self._pick(GENERAL[level] if opening else REACTIONS[level])

    def _short(self, level: int) -> str:
        """A short reply that still shows the tone."""
        return self._pick(ACKS[level]) if self._rng.random() < 0.55 else self._pick(REACTIONS[level])

    # -- the call
    def write(self, plan: CallPlan) -> list[dict[str, object]]:
        rng = self._rng
        self._used = set()
        self._topic = plan.topic
        m = len(plan.tones)
        customer: list[list[str]] = [[] for _ in range(m)]

        # The skeleton: every customer turn shows its tone at least once.
        for j, level in enumerate(plan.tones):
            turn = customer[j]
            if j == 0:
                if rng.random() < 0.6:
                    turn.append(self._pick(GREETINGS))
                if rng.random() < 0.2:
                    turn.append(self._pick(CONTEXT))
                turn.append(self._hedged(self._pick(REASONS[plan.topic]), 0.3))
                turn.append(self._tone_sentence(plan.topic, level, opening=True))
                continue
            if abs(level - plan.tones[j - 1]) >= 2 and rng.random() < 0.7:
                turn.append(self._pick(TURNAROUNDS[level]))
            if j == m - 1:
                turn.append(self._pick(CLOSINGS[level]))
            elif j == 1 and rng.random() < 0.7:
                turn.append(self._pick(ANSWERS))
                turn.append(self._short(level) if level else self._pick(GENERAL[0]))
            else:
                turn.append(self._short(level))
                # Replies also carry plain information, as real ones do.
                if rng.random() < 0.3:
                    turn.append(self._pick(NEUTRAL_INFO[plan.topic]))

        # Flavour that carries no label: small talk and a second topic.
        if rng.random() < 0.3:
            customer[rng.randrange(m)].insert(0, self._pick(SMALL_TALK))
        if m > 2 and rng.random() < 0.25:
            customer[rng.randrange(1, m - 1)].append(self._pick(SECOND_TOPIC))

        # Grow the customer side towards the planned length; middle turns grow first.
        words = sum(len(s.split()) for turn in customer for s in turn)
        guard = 0
        while words < plan.customer_words and guard < 40:
            guard += 1
            j = rng.randrange(m - 1) if m > 1 and rng.random() < 0.9 else rng.randrange(m)
            sentence = self._tone_sentence(plan.topic, plan.tones[j])
            customer[j].insert(len(customer[j]) - (1 if j == m - 1 and m > 1 else 0), sentence)
            words += len(sentence.split())

        return self._interleave(plan, [" ".join(t) for t in customer])

    def _agent_turn(self, topic: str, index: int, n_turns: int, last_tone: int | None) -> str:
        rng = self._rng
        if index == 0:
            return self._pick(AGENT_GREETINGS)
        if index == n_turns - 1:
            return self._pick(AGENT_GOODBYES)
        parts: list[str] = []
        if last_tone is not None and last_tone < 0 and rng.random() < 0.7:
            parts.append(self._pick(AGENT_EMPATHY_NEG))
        elif last_tone is not None and last_tone > 1 and rng.random() < 0.5:
            parts.append(self._pick(AGENT_EMPATHY_POS))
        if index == 2:
            parts.append(self._pick(AGENT_NEUTRAL))
            parts.append(self._pick(AGENT_VERIFY))
        elif index == n_turns - 2:
            parts.append(self._pick(AGENT_QUESTIONS[:1]))
        else:
            parts.append(
                self._pick(AGENT_ACTIONS[topic]) if rng.random() < 0.7 else self._pick(AGENT_NEUTRAL)
            )
            if rng.random() < 0.4:
                parts.append(self._pick(AGENT_QUESTIONS[1:]))
        return " ".join(parts)

    def _interleave(self, plan: CallPlan, customer_texts: list[str]) -> list[dict[str, object]]:
        """Agent speaks first and the two alternate; start times leave room for every word."""
        rng = self._rng
        turns: list[dict[str, object]] = []
        clock = round(rng.uniform(0.2, 2.0), 2)
        c = 0
        last_tone: int | None = None
        for index in range(plan.n_turns):
            if index % 2 == 1 and c < len(customer_texts):
                role, text = Role.CUSTOMER, customer_texts[c]
                last_tone = plan.tones[c]
                c += 1
            else:
                role, text = Role.AGENT, self._agent_turn(plan.topic, index, plan.n_turns, last_tone)
            turns.append({"role": role.value, "text": text, "start_time": clock})
            duration = len(text.split()) * rng.uniform(*_SECONDS_PER_WORD) + rng.uniform(*_PAUSE)
            clock = round(clock + duration, 2)
        return turns


def _capitalise(text: str) -> str:
    return text[:1].upper() + text[1:]


def _decapitalise(text: str) -> str:
    # "I", "I'm", "I've" and proper nouns at the start keep their capital.
    first = text.split(" ", 1)[0]
    if first in {"I", "I'm", "I've", "I'd", "I'll"} or first.rstrip(",.?!") in _PROPER:
        return text
    return text[:1].lower() + text[1:]


_PROPER = frozenset(SLOTS["country"]) | frozenset(SLOTS["name"]) | frozenset(SLOTS["month"])
