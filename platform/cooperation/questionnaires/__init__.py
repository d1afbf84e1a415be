"""Questionnaires on national procedures for executing the Court's requests: built by the
Secretariat and the Registry, answered by States (together, with autosave), analysed and
exported; one edition after another."""
