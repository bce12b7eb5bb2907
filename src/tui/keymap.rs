//! The keymap: actions with stable names, the keys bound to them (a preset, `wasd` or
//! `lightroom`, with config.toml's `[keys]` overrides over it), the descriptions the `?` help
//! overlay shows, and what an unbound key is told.

use std::collections::{BTreeMap, HashMap};
use std::fmt;

use crossterm::event::{KeyCode, KeyEvent, KeyEventKind, KeyModifiers};
use thiserror::Error;

use crate::config::{KeyPreset, KeysConfig};

impl KeyPreset {
    /// Every action's keys in this preset.
    fn bindings(self) -> [(Action, &'static [&'static str]); 13] {
        // What differs: a photographer's Lightroom habits (P pick, X reject, U unflagged, Z
        // loupe, Ctrl-Z undo) against one hand on WASD or the arrows. "Not the kind" is N in
        // both: X means "reject this shot" to a Lightroom user, never "no more dogs" (and
        // h/j/k/l pan the loupe).
        match self {
            KeyPreset::Wasd => [
                (Action::Yes, &["w", "up"]),
                (Action::No, &["s", "down"]),
                (Action::Skip, &["d", "right"]),
                (Action::Back, &["a", "left", "backspace"]),
                (Action::NotKind, &["n"]),
                (Action::PassBurst, &["e"]),
                (Action::SwitchMode, &["tab", "backtab"]),
                (Action::Retrain, &["r"]),
                (Action::Seed, &["g"]),
                (Action::Zoom, &["z"]),
                (Action::Compare, &["c"]),
                (Action::Help, &["?", "h", "f1"]),
                (Action::Quit, &["q"]),
            ],
            KeyPreset::Lightroom => [
                (Action::Yes, &["p", "up"]),
                (Action::No, &["x", "down"]),
                (Action::Skip, &["u", "right"]),
                (Action::Back, &["ctrl-z", "left", "backspace"]),
                (Action::NotKind, &["n"]),
                (Action::PassBurst, &["e"]),
                (Action::SwitchMode, &["tab", "backtab"]),
                (Action::Retrain, &["r"]),
                // G is Lightroom's grid: never start a long job by habit.
                (Action::Seed, &["ctrl-g"]),
                (Action::Zoom, &["z"]),
                (Action::Compare, &["c"]),
                (Action::Help, &["?", "f1"]),
                (Action::Quit, &["q"]),
            ],
        }
    }
}

/// Everything a key can do. The names are stable: they are the keys of `[keys]`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Action {
    Yes,
    No,
    Skip,
    Back,
    NotKind,
    PassBurst,
    SwitchMode,
    Retrain,
    Seed,
    Zoom,
    Compare,
    Help,
    Quit,
}

impl Action {
    pub const ALL: [Action; 13] = [
        Action::Yes,
        Action::No,
        Action::Skip,
        Action::Back,
        Action::NotKind,
        Action::PassBurst,
        Action::SwitchMode,
        Action::Retrain,
        Action::Seed,
        Action::Zoom,
        Action::Compare,
        Action::Help,
        Action::Quit,
    ];

    /// The name used in config.toml.
    pub fn name(self) -> &'static str {
        match self {
            Action::Yes => "yes",
            Action::No => "no",
            Action::Skip => "skip",
            Action::Back => "back",
            Action::NotKind => "not_kind",
            Action::PassBurst => "pass_burst",
            Action::SwitchMode => "switch_mode",
            Action::Retrain => "retrain",
            Action::Seed => "seed",
            Action::Zoom => "zoom",
            Action::Compare => "compare",
            Action::Help => "help",
            Action::Quit => "quit",
        }
    }

    pub fn from_name(name: &str) -> Option<Action> {
        Action::ALL.into_iter().find(|a| a.name() == name)
    }

    /// What the action does in ambiguous mode and in best mode, for the help overlay.
    pub fn description(self) -> (&'static str, &'static str) {
        match self {
            Action::Yes => ("yes, the sort of image I want", "pick it for print"),
            Action::No => ("no, not the sort I want", "pass: do not print"),
            Action::Skip => ("unsure: ask again later", "unsure: ask again later"),
            Action::Back => ("undo the last decision, show it again", "undo the last decision"),
            Action::NotKind => ("(best mode only)", "not the kind I want: pass + negative label"),
            Action::PassBurst => ("(best mode only)", "pass the rest of this burst"),
            Action::SwitchMode => ("switch to best-first mode", "switch to ambiguous mode"),
            Action::Retrain => ("retrain in the background", "retrain in the background"),
            Action::Seed => ("generate synthetic seed images", "generate synthetic seed images"),
            Action::Zoom => ("original at 100% / fitted", "original at 100% / fitted"),
            Action::Compare => ("(best mode only)", "two burst shots side by side"),
            Action::Help => ("this help", "this help"),
            Action::Quit => ("quit (labels are already saved)", "quit (labels are already saved)"),
        }
    }
}

impl fmt::Display for Action {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// A key as written in config.toml: a code and the modifiers that matter (ctrl, alt).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Key {
    pub code: KeyCode,
    pub ctrl: bool,
    pub alt: bool,
}

impl Key {
    pub const fn plain(code: KeyCode) -> Self {
        Self { code, ctrl: false, alt: false }
    }

    /// The key of a terminal key event; releases and repeats of kitty's keyboard protocol are
    /// not keys. Letters are folded to lower case so Shift and Caps Lock do not matter.
    pub fn from_event(ev: &KeyEvent) -> Option<Key> {
        if ev.kind != KeyEventKind::Press {
            return None;
        }
        let code = match ev.code {
            KeyCode::Char(c) => KeyCode::Char(c.to_ascii_lowercase()),
            other => other,
        };
        Some(Key {
            code,
            ctrl: ev.modifiers.contains(KeyModifiers::CONTROL),
            alt: ev.modifiers.contains(KeyModifiers::ALT),
        })
    }

    pub fn parse(spec: &str) -> Result<Key, KeymapError> {
        let bad = || KeymapError::BadKey(spec.to_owned());
        let mut key = Key::plain(KeyCode::Null);
        let mut rest = spec;
        loop {
            let lower = rest.to_ascii_lowercase();
            if lower.starts_with("ctrl-") && rest.len() > 5 {
                key.ctrl = true;
                rest = &rest[5..];
            } else if lower.starts_with("alt-") && rest.len() > 4 {
                key.alt = true;
                rest = &rest[4..];
            } else {
                break;
            }
        }
        let mut chars = rest.chars();
        key.code = match (chars.next(), chars.next()) {
            (Some(c), None) => KeyCode::Char(c.to_ascii_lowercase()),
            _ => match rest.to_ascii_lowercase().as_str() {
                "up" => KeyCode::Up,
                "down" => KeyCode::Down,
                "left" => KeyCode::Left,
                "right" => KeyCode::Right,
                "tab" => KeyCode::Tab,
                "backtab" => KeyCode::BackTab,
                "enter" => KeyCode::Enter,
                "esc" => KeyCode::Esc,
                "space" => KeyCode::Char(' '),
                "backspace" => KeyCode::Backspace,
                "delete" => KeyCode::Delete,
                "home" => KeyCode::Home,
                "end" => KeyCode::End,
                "pageup" => KeyCode::PageUp,
                "pagedown" => KeyCode::PageDown,
                f if f.starts_with('f') => {
                    let n: u8 = f[1..].parse().map_err(|_| bad())?;
                    if !(1..=12).contains(&n) {
                        return Err(bad());
                    }
                    KeyCode::F(n)
                }
                _ => return Err(bad()),
            },
        };
        Ok(key)
    }
}

impl fmt::Display for Key {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.ctrl {
            f.write_str("Ctrl-")?;
        }
        if self.alt {
            f.write_str("Alt-")?;
        }
        match self.code {
            KeyCode::Char(' ') => f.write_str("Space"),
            KeyCode::Char(c) => write!(f, "{}", c.to_ascii_uppercase()),
            KeyCode::Up => f.write_str("↑"),
            KeyCode::Down => f.write_str("↓"),
            KeyCode::Left => f.write_str("←"),
            KeyCode::Right => f.write_str("→"),
            KeyCode::BackTab => f.write_str("Shift-Tab"),
            KeyCode::F(n) => write!(f, "F{n}"),
            other => write!(f, "{other}"),
        }
    }
}

#[derive(Debug, Error, PartialEq, Eq)]
pub enum KeymapError {
    #[error("unknown action `{0}` in [keys]; the actions are: {1}")]
    UnknownAction(String, String),
    #[error(
        "cannot read the key {0:?} in [keys] (e.g. \"w\", \"up\", \"tab\", \"ctrl-r\", \"f1\")"
    )]
    BadKey(String),
    #[error(
        "the key {key} is bound to both `{first}` and `{second}` (the [keys] preset and its \
         overrides)"
    )]
    Conflict { key: String, first: Action, second: Action },
    #[error(
        "`{action}` is left without a key ([keys] {action} = [], or its keys given to other \
         actions): give it at least one (the preset's: {default})"
    )]
    Unbound { action: Action, default: String },
}

/// The step through a burst of a key (best mode): ← the previous shot, → the next.
pub fn burst_step(ev: &KeyEvent) -> Option<i8> {
    let key = Key::from_event(ev)?;
    match (key.code, key.ctrl || key.alt) {
        (KeyCode::Left, false) => Some(-1),
        (KeyCode::Right, false) => Some(1),
        _ => None,
    }
}

/// The loupe's pan of a key: the arrows and h/j/k/l (without modifiers), as (dx, dy).
pub fn pan_direction(ev: &KeyEvent) -> Option<(i8, i8)> {
    let key = Key::from_event(ev)?;
    if key.ctrl || key.alt {
        return None;
    }
    Some(match key.code {
        KeyCode::Left | KeyCode::Char('h') => (-1, 0),
        KeyCode::Right | KeyCode::Char('l') => (1, 0),
        KeyCode::Up | KeyCode::Char('k') => (0, -1),
        KeyCode::Down | KeyCode::Char('j') => (0, 1),
        _ => return None,
    })
}

/// Keys to actions, built from config.toml's `[keys]`.
#[derive(Debug, Clone)]
pub struct Keymap {
    preset: KeyPreset,
    by_key: HashMap<Key, Action>,
    by_action: BTreeMap<Action, Vec<Key>>,
}

impl Keymap {
    /// The preset's keys, each action named in `[keys]` bound to the keys given there instead.
    pub fn from_config(keys: &KeysConfig) -> Result<Self, KeymapError> {
        let mut map =
            Keymap { preset: keys.preset, by_key: HashMap::new(), by_action: BTreeMap::new() };
        let mut bindings: BTreeMap<Action, Vec<String>> = keys
            .preset
            .bindings()
            .into_iter()
            .map(|(a, specs)| (a, specs.iter().map(|s| (*s).to_owned()).collect()))
            .collect();
        let mut overridden = Vec::new();
        for (name, specs) in &keys.bindings {
            let action = Action::from_name(name).ok_or_else(|| {
                let names: Vec<_> = Action::ALL.iter().map(|a| a.name()).collect();
                KeymapError::UnknownAction(name.clone(), names.join(", "))
            })?;
            // Every action needs a key: a session where `yes` cannot be pressed is no use.
            if specs.is_empty() {
                let default = format!("{:?}", bindings.get(&action).cloned().unwrap_or_default());
                return Err(KeymapError::Unbound { action, default });
            }
            bindings.insert(action, specs.clone());
            overridden.push(action);
        }
        // A key given in [keys] is taken from the preset's action that had it (`no = ["n"]`
        // where N is "not the kind"); that action keeps its other keys, and needs one.
        let mut taken = Vec::new();
        for action in &overridden {
            for spec in &bindings[action] {
                taken.push(Key::parse(spec)?);
            }
        }
        for (action, specs) in bindings.iter_mut().filter(|(a, _)| !overridden.contains(a)) {
            let preset = format!("{specs:?}");
            specs.retain(|spec| Key::parse(spec).is_ok_and(|k| !taken.contains(&k)));
            if specs.is_empty() {
                return Err(KeymapError::Unbound { action: *action, default: preset });
            }
        }
        for (action, specs) in bindings {
            for spec in &specs {
                let key = Key::parse(spec)?;
                if let Some(&first) = map.by_key.get(&key)
                    && first != action
                {
                    return Err(KeymapError::Conflict {
                        key: key.to_string(),
                        first,
                        second: action,
                    });
                }
                map.by_key.insert(key, action);
                let list = map.by_action.entry(action).or_default();
                if !list.contains(&key) {
                    list.push(key);
                }
            }
        }
        Ok(map)
    }

    /// The keymap of the embedded config.toml.
    pub fn defaults() -> Self {
        Self::from_config(&crate::config::Config::default().keys).unwrap_or_else(|_| Keymap {
            preset: KeyPreset::Wasd,
            by_key: HashMap::new(),
            by_action: BTreeMap::new(),
        })
    }

    /// The preset the keys start from.
    pub fn preset(&self) -> KeyPreset {
        self.preset
    }

    /// What a key that does nothing here tells the user, or `None` for events that are not a
    /// key press: which key does what a Lightroom user (or a rating habit) meant by it.
    pub fn unbound_hint(&self, ev: &KeyEvent) -> Option<String> {
        let key = Key::from_event(ev)?;
        if self.by_key.contains_key(&key) || matches!(key.code, KeyCode::Modifier(_)) {
            return None;
        }
        let help = self.short(Action::Help);
        let does = |action: Action, what: &str| {
            format!("{key} is not bound: {} {what} · {help} keys", self.short(action))
        };
        Some(match (key.code, key.ctrl) {
            (KeyCode::Char('p'), false) => does(Action::Yes, "picks"),
            (KeyCode::Char('x'), false) => does(Action::No, "passes (rejects for print)"),
            (KeyCode::Char('u'), false) => does(Action::Skip, "leaves it undecided"),
            (KeyCode::Char('z'), true) => does(Action::Back, "undoes"),
            (KeyCode::Char('1'..='5'), false) => {
                format!(
                    "{key}: photosift has no star ratings; {} picks · {help} keys",
                    self.short(Action::Yes)
                )
            }
            _ => format!("{key} is not bound · {help} shows the keys"),
        })
    }

    /// The action of a key event. Ctrl-C always quits, whatever the keymap says.
    pub fn action(&self, ev: &KeyEvent) -> Option<Action> {
        let key = Key::from_event(ev)?;
        if key.ctrl && key.code == KeyCode::Char('c') {
            return Some(Action::Quit);
        }
        self.by_key.get(&key).copied()
    }

    pub fn keys(&self, action: Action) -> &[Key] {
        self.by_action.get(&action).map(Vec::as_slice).unwrap_or(&[])
    }

    /// The keys of an action as the help and hints show them, e.g. "W/↑".
    pub fn label(&self, action: Action) -> String {
        let keys: Vec<String> = self.keys(action).iter().map(Key::to_string).collect();
        if keys.is_empty() { "(unbound)".to_owned() } else { keys.join("/") }
    }

    /// The first key of an action, for the compact hints.
    pub fn short(&self, action: Action) -> String {
        self.keys(action).first().map(Key::to_string).unwrap_or_else(|| "-".to_owned())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn press(code: KeyCode, modifiers: KeyModifiers) -> KeyEvent {
        KeyEvent::new(code, modifiers)
    }

    #[test]
    fn default_keymap_binds_wasd_and_arrows() {
        let km = Keymap::defaults();
        let none = KeyModifiers::NONE;
        assert_eq!(km.action(&press(KeyCode::Char('w'), none)), Some(Action::Yes));
        assert_eq!(km.action(&press(KeyCode::Char('W'), KeyModifiers::SHIFT)), Some(Action::Yes));
        assert_eq!(km.action(&press(KeyCode::Up, none)), Some(Action::Yes));
        assert_eq!(km.action(&press(KeyCode::Char('s'), none)), Some(Action::No));
        assert_eq!(km.action(&press(KeyCode::Down, none)), Some(Action::No));
        assert_eq!(km.action(&press(KeyCode::Char('d'), none)), Some(Action::Skip));
        assert_eq!(km.action(&press(KeyCode::Right, none)), Some(Action::Skip));
        assert_eq!(km.action(&press(KeyCode::Char('a'), none)), Some(Action::Back));
        assert_eq!(km.action(&press(KeyCode::Left, none)), Some(Action::Back));
        assert_eq!(km.action(&press(KeyCode::Tab, none)), Some(Action::SwitchMode));
        assert_eq!(km.action(&press(KeyCode::Char('?'), KeyModifiers::SHIFT)), Some(Action::Help));
        assert_eq!(
            km.action(&press(KeyCode::Char('c'), KeyModifiers::CONTROL)),
            Some(Action::Quit)
        );
        assert_eq!(km.action(&press(KeyCode::Char('z'), none)), Some(Action::Zoom));
        assert_eq!(km.action(&press(KeyCode::Char('y'), none)), None);
        assert_eq!(km.action(&press(KeyCode::Char('n'), none)), Some(Action::NotKind));
        assert!(Action::ALL.iter().all(|a| !km.keys(*a).is_empty()), "every action has a key");
    }

    /// Issue 30, item 2: Lightroom's keys, and a word for every key that does nothing.
    #[test]
    fn the_lightroom_preset_and_hints_for_unbound_keys() {
        let c = crate::config::Config::from_toml_over_defaults("[keys]\npreset = \"lightroom\"\n")
            .unwrap();
        let km = Keymap::from_config(&c.keys).unwrap();
        let none = KeyModifiers::NONE;
        assert_eq!(km.preset(), KeyPreset::Lightroom);
        assert_eq!(km.action(&press(KeyCode::Char('p'), none)), Some(Action::Yes));
        assert_eq!(km.action(&press(KeyCode::Char('x'), none)), Some(Action::No));
        assert_eq!(km.action(&press(KeyCode::Char('u'), none)), Some(Action::Skip));
        assert_eq!(
            km.action(&press(KeyCode::Char('z'), KeyModifiers::CONTROL)),
            Some(Action::Back)
        );
        assert_eq!(km.action(&press(KeyCode::Char('n'), none)), Some(Action::NotKind));
        assert_eq!(km.action(&press(KeyCode::Char('g'), none)), None, "G is Lightroom's grid");
        assert!(Action::ALL.iter().all(|a| !km.keys(*a).is_empty()), "every action has a key");
        // Under the default preset a Lightroom habit is told which key does it.
        let wasd = Keymap::defaults();
        let hint = |km: &Keymap, c: char| km.unbound_hint(&press(KeyCode::Char(c), none));
        assert_eq!(hint(&wasd, 'p').unwrap(), "P is not bound: W picks · ? keys");
        assert_eq!(
            hint(&wasd, 'x').unwrap(),
            "X is not bound: S passes (rejects for print) · ? keys"
        );
        assert_eq!(hint(&wasd, 'u').unwrap(), "U is not bound: D leaves it undecided · ? keys");
        assert!(hint(&wasd, '3').unwrap().contains("no star ratings; W picks"));
        assert_eq!(hint(&wasd, 'y').unwrap(), "Y is not bound · ? shows the keys");
        assert_eq!(hint(&wasd, 'w'), None, "a bound key has no hint");
        assert_eq!(hint(&km, 'w').unwrap(), "W is not bound · ? shows the keys");
        // An override replaces one action's keys; the rest stay the preset's.
        let c = crate::config::Config::from_toml_over_defaults(
            "[keys]\npreset = \"lightroom\"\nnot_kind = [\"m\"]\n",
        )
        .unwrap();
        let km = Keymap::from_config(&c.keys).unwrap();
        assert_eq!(km.label(Action::NotKind), "M");
        assert_eq!(km.label(Action::Yes), "P/↑");
        let bad = crate::config::Config::from_toml_over_defaults("[keys]\npreset = \"vim\"\n");
        assert!(bad.is_err());
    }

    /// Issue 31, item 11: `[keys] yes = []` was accepted, and the session could not label.
    #[test]
    fn an_action_left_without_keys_is_refused() {
        let c = crate::config::Config::from_toml_over_defaults("[keys]\nyes = []\n").unwrap();
        let err = Keymap::from_config(&c.keys).unwrap_err();
        assert!(matches!(err, KeymapError::Unbound { action: Action::Yes, .. }), "{err}");
        assert!(err.to_string().contains(r#"["w", "up"]"#), "{err}");
    }

    #[test]
    fn releases_are_not_keys() {
        let mut ev = press(KeyCode::Char('w'), KeyModifiers::NONE);
        ev.kind = KeyEventKind::Release;
        assert_eq!(Keymap::defaults().action(&ev), None);
    }

    #[test]
    fn rebinding_and_errors() {
        let c = crate::config::Config::from_toml_over_defaults(
            "[keys]\nyes = [\"i\", \"ctrl-y\"]\nno = [\"j\", \"right\"]\n",
        )
        .unwrap();
        let km = Keymap::from_config(&c.keys).unwrap();
        assert_eq!(km.action(&press(KeyCode::Char('i'), KeyModifiers::NONE)), Some(Action::Yes));
        assert_eq!(km.action(&press(KeyCode::Char('y'), KeyModifiers::CONTROL)), Some(Action::Yes));
        assert_eq!(km.action(&press(KeyCode::Char('w'), KeyModifiers::NONE)), None);
        assert_eq!(km.label(Action::Yes), "I/Ctrl-Y");
        // → was skip's in the preset: given to `no`, skip keeps D.
        assert_eq!((km.label(Action::No), km.label(Action::Skip)), ("J/→".into(), "D".into()));
        // Taking an action's only key leaves it without one: refused.
        let only =
            crate::config::Config::from_toml_over_defaults("[keys]\nno = [\"n\"]\n").unwrap();
        let err = Keymap::from_config(&only.keys).unwrap_err();
        assert!(matches!(err, KeymapError::Unbound { action: Action::NotKind, .. }), "{err}");

        let mut keys = c.keys.clone();
        keys.bindings.insert("jump".into(), vec!["j".into()]);
        assert!(matches!(Keymap::from_config(&keys), Err(KeymapError::UnknownAction(..))));
        let mut keys = c.keys.clone();
        keys.bindings.insert("skip".into(), vec!["i".into()]);
        assert!(matches!(Keymap::from_config(&keys), Err(KeymapError::Conflict { .. })));
        assert!(Key::parse("f13").is_err());
        assert!(Key::parse("banana").is_err());
        assert_eq!(Key::parse("F5").unwrap(), Key::plain(KeyCode::F(5)));
    }
}
