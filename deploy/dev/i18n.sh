#!/usr/bin/env bash
# One command for the translation cycle: extract every marked string (platform, plugins,
# templates) into messages.pot, merge it into each catalogue, compile the .mo files.
#   bash deploy/dev/i18n.sh
# Then translate the empty msgstr entries in platform/cooperation/translations/*/LC_MESSAGES/
# messages.po and run it again; tests/unit/test_i18n.py fails while any string is untranslated.
set -euo pipefail
cd "$(dirname "$0")/../.."

TRANSLATIONS=platform/cooperation/translations
PYBABEL=.venv/bin/pybabel
[ -x "$PYBABEL" ] || PYBABEL=pybabel

# Keywords beyond Babel's defaults (_, gettext, ngettext, pgettext, ...). Keep in step with
# KEYWORDS in tests/unit/test_i18n.py, which re-runs this extraction in-process.
"$PYBABEL" extract --mapping-file "$TRANSLATIONS/babel.cfg" \
  --keyword _l --keyword lazy_gettext --keyword lazy_ngettext:1,2 \
  --keyword lazy_pgettext:1c,2 --keyword lazy_npgettext:1c,2,3 \
  --add-comments TRANSLATORS: --sort-by-file --width 100 \
  --project "Secure Platform on Cooperation" --version "$(.venv/bin/python -c 'import importlib.metadata as m; print(m.version("secure-platform-cooperation"))' 2>/dev/null || echo 0)" \
  --copyright-holder "Secretariat of the Assembly of States Parties to the Rome Statute" \
  --output-file "$TRANSLATIONS/messages.pot" .

# No fuzzy matching: a guessed translation of a changed string is worse than an empty one,
# and an empty one makes the unit test name it. Obsolete entries are dropped, not kept as #~.
for lang in fr; do
  "$PYBABEL" update --input-file "$TRANSLATIONS/messages.pot" --output-dir "$TRANSLATIONS" \
    --locale "$lang" --init-missing --no-fuzzy-matching --ignore-obsolete --width 100
done

"$PYBABEL" compile --directory "$TRANSLATIONS" --statistics
