#!/usr/bin/env bash
# One command for the translation cycle: extract every marked string (platform, plugins,
# templates) into messages.pot, merge it into each catalogue, compile the .mo files.
#   bash deploy/dev/i18n.sh
# Then fill the empty msgstr entries in platform/cooperation/translations/<lang>/LC_MESSAGES/
# messages.po and run it again to compile. tests/unit/test_i18n.py lists any string that is
# marked in the code but missing or untranslated in a catalogue, and a stale .mo.
set -euo pipefail
cd "$(dirname "$0")/../.."

TRANSLATIONS=platform/cooperation/translations
LANGUAGES=(fr)  # English is the source language: it needs no catalogue.
PYBABEL=.venv/bin/pybabel
[ -x "$PYBABEL" ] || PYBABEL=pybabel

# Paths, keywords and Jinja options are all in babel.cfg (shared with the unit test).
"$PYBABEL" -q extract --mapping-file "$TRANSLATIONS/babel.cfg" --sort-by-file --width 100 \
  --project "Secure Platform on Cooperation" \
  --copyright-holder "Secretariat of the Assembly of States Parties to the Rome Statute" \
  --output-file "$TRANSLATIONS/messages.pot" .

# No fuzzy matching: a guessed translation of a changed string is worse than an empty one,
# which the unit test names. Obsolete entries are dropped rather than kept as #~ comments.
for lang in "${LANGUAGES[@]}"; do
  "$PYBABEL" -q update --input-file "$TRANSLATIONS/messages.pot" --output-dir "$TRANSLATIONS" \
    --locale "$lang" --init-missing --no-fuzzy-matching --ignore-obsolete --width 100
done

# Untranslated and fuzzy entries are left out of the .mo (English shows instead).
"$PYBABEL" compile --directory "$TRANSLATIONS" --statistics
