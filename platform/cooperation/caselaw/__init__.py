"""Case law and Registry guidance: explainers of the Court's decisions on cooperation and
practical guidance notes, written by Registry editors (Markdown, two-person publication,
versions, EN/FR translations) and read by every role (search, indexes, Atom feed)."""
