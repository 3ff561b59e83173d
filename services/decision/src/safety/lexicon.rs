//! Text harm severities from curated English lexicons with context rules: who a violent verb is
//! aimed at (a first-person threat at "you" is graver than a report of violence), whether a
//! self-harm phrase is the writer's own intent, slurs and dehumanising statements about groups,
//! explicit against suggestive sexual language, and negation ("I would never hurt you") lowering
//! what follows. Each rule gives a severity on Azure's 0..7 scale; a category's severity is the
//! highest of its rules that match.
//!
//! Written here: no registry package carries a moderation model or lexicon with these four
//! categories (docs/design/personalizer-and-content-safety.md, part B); the rules are patterns
//! over normalised text (the `regex` crate does the matching).

use std::sync::LazyLock;

use regex::Regex;

use super::Category;

/// Words that, shortly before a match, negate it.
const NEGATORS: &[&str] = &[
    "not",
    "never",
    "no",
    "dont",
    "don't",
    "wont",
    "won't",
    "wouldnt",
    "wouldn't",
    "didnt",
    "didn't",
    "isnt",
    "isn't",
    "cant",
    "can't",
    "cannot",
    "shouldnt",
    "shouldn't",
    "stop",
    "without",
];
/// How many words before a match a negator counts.
const NEGATION_WINDOW: usize = 4;
/// How much a negation lowers a severity.
const NEGATION_DISCOUNT: u8 = 4;

/// Groups hateful statements are made about (plural forms and "<x> people").
const GROUPS: &str = r"(?:immigrants|migrants|refugees|foreigners|muslims|jews|christians|catholics|hindus|sikhs|atheists|blacks|black people|whites|white people|gays|gay people|lesbians|homosexuals|trans people|transgender people|women|girls|asians|mexicans|arabs|africans|indians|chinese|hispanics|latinos|gypsies|roma|disabled people|the disabled|jewish people|muslim people|asian people)";
/// Dehumanising predicates.
const VERMIN: &str = r"(?:animals|vermin|rats|parasites|cockroaches|subhuman|sub-human|disgusting|filth|filthy|scum|trash|garbage|inferior|a disease|a plague|a cancer|savages|monkeys|apes|dogs|pigs|worthless|freaks|degenerates|perverts|mentally ill(?: \w+)?|sick in the head|an abomination|abominations)";
/// Criminal stereotypes predicated of a whole group.
const STEREOTYPES: &str =
    r"(?:terrorists|criminals|rapists|thieves|murderers|drug dealers|pedophiles|paedophiles|illegals|invaders|liars)";
/// Slurs (kept short: the words whose only common use is to demean a group).
const SLURS: &str = r"(?:nigger|niggers|faggot|faggots|kike|kikes|spic|spics|chink|chinks|wetback|wetbacks|tranny|trannies|raghead|ragheads|towelhead|towelheads|coon|coons|gook|gooks|dyke|dykes|retard|retards)";
const PERSON: &str = r"(?:you|him|her|them|your \w+|his \w+|their \w+|my \w+|everyone|everybody|people|somebody|someone|that \w+|this \w+)";
const FIRST_PERSON_WILL: &str = r"(?:let's|lets|i will|i'll|ill|i am going to|i'm going to|im going to|i'm gonna|im gonna|i gonna|i am gonna|gonna|i want to|i wanna|i'd like to|i would like to|i'm about to|i am about to|we will|we're going to|we are going to)";
const KILL: &str =
    r"(?:kill|murder|shoot|stab|slaughter|butcher|execute|behead|strangle|burn|bomb|gut|slit|shank|lynch)";
const HURT: &str = r"(?:hurt|beat|punch|hit|kick|smash|break|choke|attack|rape|torture|cut|destroy|beat up|batter)";
/// Acts of self-harm in every inflection ("burn", "burned", "burning", ...).
const SELF: &str = r"(?:kill|kills|killed|killing|hurt|hurts|hurting|harm|harms|harmed|harming|cut|cuts|cutting|burn|burns|burned|burnt|burning|starve|starves|starved|starving|hang|hanged|hanging|poison|poisoned|poisoning|shoot|shot|shooting|drown|drowned|drowning|scratch|scratched|scratching|punish|punished|punishing)";

/// Idioms that use violent words harmlessly; they are blanked out before the rules run.
static IDIOMS: LazyLock<Regex> = LazyLock::new(|| {
    let idioms = [
        r"(?:killed|killing|kill) it",
        r"(?:is|are|was|were|it's|its) killing me",
        r"kill (?:the|a|this|that) (?:process|job|task|server|app|application|program|engine|lights|switch|time|mood|bug)",
        r"shoot (?:me|us|him|her|them) (?:an? )?(?:email|e-mail|message|text|note|line)",
        r"dying (?:to|for)",
        r"beat (?:them|us|him|her|you) (?:\d+|one|two|three|four|five|six|seven|eight|nine|ten)(?: to| -)",
        r"(?:hit|kick|kicked|hits|kicks) the (?:ball|road|sack|books|gym|spot|bucket list)",
        r"(?:break|breaks|broke) (?:the|a) (?:build|record|ice|news|bank|habit)",
        r"(?:killer|killing) (?:feature|app|deal|look|performance)",
    ];
    let pattern = format!(r"\b(?:{})\b", idioms.join("|"));
    Regex::new(&pattern).unwrap_or_else(|e| panic!("idioms: {e}"))
});

struct Rule {
    category: Category,
    severity: u8,
    pattern: Regex,
}

fn rule(category: Category, severity: u8, pattern: &str) -> Rule {
    let expanded = pattern
        .replace("{GROUPS}", GROUPS)
        .replace("{VERMIN}", VERMIN)
        .replace("{STEREOTYPES}", STEREOTYPES)
        .replace("{SLURS}", SLURS)
        .replace("{PERSON}", PERSON)
        .replace("{WILL}", FIRST_PERSON_WILL)
        .replace("{KILL}", KILL)
        .replace("{HURT}", HURT)
        .replace("{SELF}", SELF);
    // The patterns are constants of this file; a typo must fail the unit tests, not a request.
    let pattern = Regex::new(&format!(r"\b(?:{expanded})\b")).unwrap_or_else(|e| panic!("lexicon rule {pattern}: {e}"));
    Rule { category, severity, pattern }
}

static RULES: LazyLock<Vec<Rule>> = LazyLock::new(|| {
    use Category::*;
    vec![
        // Hate: calls to kill or expel a group, dehumanisation, slurs, contempt.
        rule(
            Hate,
            6,
            r"(?:kill|exterminate|gas|hang|lynch|eradicate|wipe out|get rid of|deport|purge) (?:(?:all|the|every|those|these) ){0,2}{GROUPS}",
        ),
        rule(
            Hate,
            6,
            r"{GROUPS} (?:should|must|need to|deserve to) (?:all )?(?:die|be killed|be exterminated|be gassed|be wiped out|burn|be deported|be hanged)",
        ),
        rule(Hate, 5, r"(?:all |those |these |the )?{GROUPS} (?:are|is|r) (?:all |just |nothing but |such )?{VERMIN}"),
        rule(Hate, 5, r"{SLURS}"),
        rule(Hate, 4, r"(?:all |those |these |the )?{GROUPS} (?:are|r) (?:all |just |nothing but )?{STEREOTYPES}"),
        rule(
            Hate,
            4,
            r"(?:those|these|you|such) people (?:are|r) (?:all |just |nothing but |such )?(?:{VERMIN}|{STEREOTYPES})",
        ),
        rule(
            Hate,
            4,
            r"{GROUPS} (?:should not|shouldn't|shouldnt|must not) be allowed to (?:vote|live|exist|work|marry|breed|enter|stay)",
        ),
        rule(Hate, 4, r"i (?:hate|despise|can't stand|cant stand|loathe) (?:all |those |these |the )?{GROUPS}"),
        rule(Hate, 4, r"(?:dirty|filthy|stupid|worthless) {GROUPS}"),
        rule(
            Hate,
            3,
            r"go back (?:to )?(?:your|their) (?:own )?(?:country|countries)|go back (?:to )?where (?:you|they) came from|{GROUPS} (?:don't|do not|dont) belong here",
        ),
        rule(
            Hate,
            2,
            r"i hate you|fuck you|fuck off|you (?:are|re|'re) (?:a |an |such a |such an )?(?:\w+ )?(?:idiot|moron|loser|bitch|asshole|bastard|piece of shit|retard|scumbag|jerk)|shut up",
        ),
        // Violence: first-person threats at someone, then other threats, instructions, and reports.
        rule(Violence, 6, r"{WILL} (?:\w+ ){0,3}{KILL} {PERSON}"),
        rule(
            Violence,
            6,
            r"(?:put|putting|pump|pumping) (?:a |some )?(?:bullet|bullets|lead|knife|blade) (?:in|into|through) (?:your|his|her|their) (?:\w+ )?(?:head|skull|face|chest|heart|back|brain|brains)",
        ),
        rule(
            Violence,
            5,
            r"(?:smash|bash|kick|beat|blow|cave) (?:your|his|her|their) (?:\w+ )?(?:face|head|skull|teeth|brains) in|(?:run|running|ran) (?:you|him|her|them) over|make sure (?:you|he|she|they) (?:never|can't|cannot|won't) (?:walks?|talks?|breathes?|sees?|wakes? up) again",
        ),
        rule(
            Violence,
            5,
            r"(?:i )?(?:hope|wish|pray) (?:someone|somebody|you|he|she|they|a \w+) (?:dies|die|gets killed|get killed|gets shot|get shot|runs you over|kills you|rapes you|chokes)",
        ),
        rule(Violence, 6, r"(?:find|hunt|track) (?:you|him|her|them) (?:down )?and (?:{KILL}|{HURT})"),
        rule(Violence, 5, r"{WILL} (?:\w+ ){0,3}{HURT} {PERSON}"),
        rule(
            Violence,
            5,
            r"how (?:to|do i|can i) (?:make|build|assemble) (?:a |an )?(?:bomb|pipe bomb|explosive|ied|molotov)",
        ),
        rule(
            Violence,
            5,
            r"you (?:will|are going to|re going to|'re going to|gonna) (?:die|bleed|suffer|pay for this)|you(?:'re| are| re) (?:a )?dead (?:man|woman|meat)?|i know where you live|watch your back",
        ),
        rule(
            Violence,
            5,
            r"(?:kill|exterminate|gas|hang|lynch|shoot|burn) (?:(?:all|the|every|those|these) ){1,2}{GROUPS}",
        ),
        rule(
            Violence,
            5,
            r"(?:someone|somebody|they|we|you) (?:should|needs to|need to|ought to|has to|have to) {KILL} {PERSON}",
        ),
        rule(Violence, 4, r"(?:{KILL}|{HURT}) (?:you|him|her|them|everyone|everybody)"),
        rule(
            Violence,
            4,
            r"(?:{KILL}|{HURT}) (?:his|her|their|your) (?:legs|arms|neck|face|head|skull|bones|jaw|teeth|knees|nose)",
        ),
        rule(
            Violence,
            4,
            r"(?:should|deserve to|deserves to|ought to) (?:be )?(?:shot|killed|hanged|murdered|beaten|stabbed|die)",
        ),
        rule(
            Violence,
            3,
            r"(?:murdered|killed|stabbed|beaten to death|massacred|slaughtered|tortured|assaulted|raped|beheaded|bombed|strangled|executed|gunned down|blew up)",
        ),
        rule(Violence, 3, r"(?:massacre|murder|shooting|stabbing|bombing|terrorist attack|genocide|mass shooting)"),
        rule(
            Violence,
            3,
            r"opened fire|open fire on|(?:killing|killed|wounding|wounded|injuring) (?:\d+|two|three|four|five|six|seven|eight|nine|ten|eleven|twelve|dozens|hundreds|thousands|many)|(?:was|were|got|been|being) (?:shot|stabbed|beaten|lynched)|shot (?:dead|him|her|them|\w+ times)",
        ),
        rule(
            Violence,
            4,
            r"(?:make|making|build|building|instructions for|recipe for|how to make) (?:a |an )?(?:molotov(?: cocktail)?|pipe bomb|nail bomb|car bomb|ied|napalm|explosives?)",
        ),
        rule(
            Violence,
            2,
            r"(?:bloodbath|gore|gory|corpse|dead body|dead bodies|punched|wounded|weapon|weapons|gun|guns|rifle|rifles|bomb|bombs|explosives?)",
        ),
        // Words that are violent only in some uses ("war" in a history class, a fight over the
        // remote): below the reported levels alone.
        rule(Violence, 1, r"(?:bloody|war|wars|battle|fight|fighting|fought|kicked|injured|knife|knives)"),
        // Self-harm: the writer's own intent, methods, then mentions.
        rule(
            SelfHarm,
            6,
            r"(?:{WILL}|i need to|i have to|i plan to|i'm planning to|i am planning to|i'm thinking about|i am thinking about|thinking of) (?:\w+ ){0,2}(?:{SELF} myself|end (?:it all|my life)|take my (?:own )?life|commit suicide|slit my wrists|overdose)",
        ),
        rule(SelfHarm, 6, r"slit(?:ting)? my wrists|(?:end|take|ending|taking) my (?:own )?life|hang myself"),
        rule(SelfHarm, 5, r"(?:{SELF}) myself|commit(?:ting)? suicide|kms"),
        rule(
            SelfHarm,
            5,
            r"i (?:want|wish|wanna) (?:to die|i (?:was|were) dead|to be dead|to disappear forever)|i (?:don't|do not|dont) want to (?:live|be alive|wake up)|(?:better off|be better) dead|no reason to (?:live|go on)|nothing to live for",
        ),
        rule(
            SelfHarm,
            5,
            r"(?:end|ending|ended) it all|(?:nobody|no one|noone|nobody else) would (?:miss|care about|notice|even notice) (?:me )?(?:if|when) i (?:die|died|was gone|were gone|disappeared|killed myself)|i (?:want|wish|hope) (?:\w+ ){0,3}never (?:to )?wake up",
        ),
        rule(
            SelfHarm,
            5,
            r"how (?:many|much) (?:\w+ ){0,2}(?:pills|tablets|paracetamol|tylenol|sleeping pills|insulin)(?: \w+){0,5} (?:to )?(?:overdose|die|kill myself|kill me|be fatal|be lethal)|(?:lethal|fatal) dose",
        ),
        rule(SelfHarm, 4, r"(?:pro[- ]?ana|thinspiration|purging after|make myself (?:throw up|vomit))"),
        rule(SelfHarm, 4, r"i (?:want|wish|wanna) (?:\w+ ){0,3}(?:disappear|vanish) (?:forever|for good|and never)"),
        rule(SelfHarm, 4, r"suicidal|overdose on|self[- ]harm(?:ing)?|cutting scars|razor blades? on my"),
        rule(SelfHarm, 2, r"suicide|self[- ]injury|overdose|overdosed|overdosing"),
        // Sexual: sexual content with minors, explicit acts, explicit requests, pornography,
        // nudity, sexual body slang, then suggestive and educational terms.
        rule(
            Sexual,
            7,
            r"(?:child|kiddie|underage|minor|teen) (?:porn|sex|nudes|naked)|sex with (?:a |an )?(?:child|children|kid|kids|minor|minors|underage)",
        ),
        rule(
            Sexual,
            6,
            r"(?:fuck|fucking|suck|sucking|lick|licking|ride|riding) (?:my|your|his|her|their) (?:dick|cock|pussy|tits|clit|balls|ass|cunt)",
        ),
        rule(
            Sexual,
            5,
            r"(?:blowjob|blow job|handjob|hand job|cumshot|gangbang|deepthroat|anal sex|oral sex|threesome|orgasm|masturbat\w*|ejaculat\w*|creampie|bukkake|dildo|vibrator)",
        ),
        rule(
            Sexual,
            5,
            r"send (?:me )?(?:your )?(?:nudes|naked (?:pics|pictures|photos))|(?:show|send) me your (?:naked body|boobs|tits|dick|cock|pussy)",
        ),
        rule(
            Sexual,
            4,
            r"(?:porn|porno|pornography|pornographic|xxx|hentai|onlyfans|sex tape|have sex|having sex|had sex|sleep with me|fuck me|horny)",
        ),
        rule(
            Sexual,
            4,
            r"(?:naked|nude|topless|undressed) (?:pics|photos|pictures|body|bodies|selfies?|women|girls|men|video|videos)|nudes",
        ),
        rule(
            Sexual,
            3,
            r"(?:dick|cock|pussy|tits|boobs|cunt|clit|erection|boner|slut|whore|sluts|whores|milfs?|camgirls?|hookups?|hook up with|nsfw)",
        ),
        rule(
            Sexual,
            3,
            r"(?:touch|touching|kiss|kissing|lick|licking|feel|feeling) (?:you|your body|me|my body) (?:all over|everywhere|down there|in bed)",
        ),
        rule(
            Sexual,
            2,
            r"(?:sexy|sex|sexual|sexually|seduce|seductive|lingerie|striptease|stripper|erotic|kinky|make love|making love|penis|vagina|breasts|naked|nude|aroused|arousal|intercourse|condom|condoms)",
        ),
    ]
});

/// Lower-cases and undoes the usual disguises: digits and symbols standing for letters inside
/// words (`k1ll`, `$uicide`), letters repeated three or more times (`diiie`), curly apostrophes.
pub fn normalise(text: &str) -> String {
    let lower = text.to_lowercase().replace(['\u{2019}', '\u{2018}'], "'");
    let chars: Vec<char> = lower.chars().collect();
    let mut out = String::with_capacity(lower.len());
    for (i, &c) in chars.iter().enumerate() {
        let letter_near = |j: Option<usize>| j.and_then(|j| chars.get(j)).is_some_and(|c| c.is_alphabetic());
        let inside_word = letter_near(i.checked_sub(1)) || letter_near(Some(i + 1));
        let c = match c {
            '0' if inside_word => 'o',
            '1' | '!' if inside_word && letter_near(Some(i + 1)) => 'i',
            '3' if inside_word => 'e',
            '4' | '@' if inside_word => 'a',
            '5' | '$' if inside_word || letter_near(Some(i + 1)) => 's',
            '7' if inside_word => 't',
            '*' if inside_word && letter_near(Some(i + 1)) => 'i',
            c => c,
        };
        let repeated = out.chars().rev().take(2).filter(|p| *p == c).count() == 2;
        if !(repeated && c.is_alphabetic()) {
            out.push(c);
        }
    }
    out
}

/// Whether a negator is among the few words before byte `at` of `text`.
fn negated(text: &str, at: usize) -> bool {
    text[..at]
        .split(|c: char| !(c.is_alphanumeric() || c == '\''))
        .filter(|w| !w.is_empty())
        .rev()
        .take(NEGATION_WINDOW)
        .any(|w| NEGATORS.contains(&w))
}

/// The severity (0..7) of each category in `text`.
pub fn severities(text: &str) -> [(Category, u8); 4] {
    let text = IDIOMS.replace_all(&normalise(text), "_").into_owned();
    let mut out = Category::ALL.map(|c| (c, 0u8));
    for rule in RULES.iter() {
        for found in rule.pattern.find_iter(&text) {
            let mut severity = rule.severity;
            if negated(&text, found.start()) {
                severity = severity.saturating_sub(NEGATION_DISCOUNT);
            }
            let slot = &mut out[Category::ALL.iter().position(|c| *c == rule.category).unwrap_or(0)];
            slot.1 = slot.1.max(severity);
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn of(text: &str, category: Category) -> u8 {
        severities(text).iter().find(|(c, _)| *c == category).map_or(0, |s| s.1)
    }

    #[test]
    fn every_rule_compiles() {
        assert!(RULES.len() > 30);
    }

    #[test]
    fn threats_reports_and_negations() {
        assert_eq!(of("I am going to kill you.", Category::Violence), 6);
        assert_eq!(of("I'm going to find you and hurt your family", Category::Violence), 6);
        assert!(of("Three people were shot downtown last night.", Category::Violence) >= 2);
        assert!(of("I would never hurt you.", Category::Violence) < 2);
        assert_eq!(of("I'll k1ll you", Category::Violence), 6);
    }

    #[test]
    fn self_harm_intent_and_mentions() {
        assert_eq!(of("I want to kill myself", Category::SelfHarm), 6);
        assert!(of("The suicide prevention hotline is open all night.", Category::SelfHarm) <= 2);
        assert!(of("I would never kill myself", Category::SelfHarm) < 2);
    }

    #[test]
    fn hate_and_sexual() {
        assert_eq!(of("All immigrants are vermin", Category::Hate), 5);
        assert_eq!(of("I hate all immigrants, they should die", Category::Hate), 4);
        assert!(of("Send me your nudes", Category::Sexual) >= 4);
        for benign in
            ["Have a nice day!", "The meeting moved to Thursday at 3pm.", "I love my grandmother's apple pie."]
        {
            assert_eq!(severities(benign).map(|s| s.1), [0, 0, 0, 0], "{benign}");
        }
    }

    #[test]
    fn normalises_disguises() {
        assert_eq!(normalise("K1LL y0u $uicide diiiie"), "kill you suicide diie");
        assert_eq!(normalise("Room 101 at 5 pm"), "room 101 at 5 pm");
    }
}
