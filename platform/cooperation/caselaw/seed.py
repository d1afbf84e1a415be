"""Demo content for the case-law section, loaded by `seed-demo` (never by a migration).

Written from the public ASP documents in the reference set and cited by their title, date and
paragraph; nothing is copied at length. Every item is flagged `is_demo` and shown as demo
content. The Registry's real explainers replace these in production, through the normal
workflow; this import publishes directly as the system (there is no second editor to ask).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime

from sqlalchemy.orm import Session

from cooperation.audit.service import Actor, record
from cooperation.caselaw import services
from cooperation.caselaw.models import CaselawItem
from cooperation.caselaw.services import Content
from cooperation.caselaw.taxonomy import ItemKind, ItemStatus, Language
from cooperation.db import utcnow

BUREAU_2020 = "Report of the Bureau on cooperation, Assembly of States Parties, nineteenth session (8 December 2020)"
COURT_2016 = "Report of the Court on cooperation, Assembly of States Parties, fifteenth session (11 October 2016)"
NONCOOP_2020 = "Report of the Bureau on non-cooperation, Assembly of States Parties, nineteenth session (10 December 2020)"


@dataclass(frozen=True)
class DemoItem:
    slug: str
    kind: ItemKind
    language: Language
    content: Content
    translation_of: str | None = None  # slug of the source item
    related: tuple[str, ...] = ()  # slugs


def publish_imported(session: Session, *, kind: ItemKind, language: Language, slug: str, content: Content,
                     actor: Actor, translation_of: CaselawItem | None = None, is_demo: bool = False,
                     now: datetime | None = None) -> CaselawItem:
    """Create an item and make its first version visible at once (imports and demo data)."""
    now = now or utcnow()
    item = services.create_item(session, kind=kind, language=language, slug=slug, content=content,
                                author=None, actor=actor, translation_of=translation_of, is_demo=is_demo,
                                now=now)
    item.status = ItemStatus.PUBLISHED
    item.published_version_number = item.current_version_number
    item.publish_at = item.first_published_at = item.approved_at = now
    session.flush()
    services.reindex(session, item)
    record(session, "caselaw.item.import", actor, target_type=services.TARGET, target_id=item.id,
           details={"slug": slug, "version": item.published_version_number, "demo": is_demo})
    return item


FREEZING_EN = DemoItem(
    slug="freezing-no-link-between-crime-and-assets",
    kind=ItemKind.EXPLAINER, language=Language.EN,
    related=("executing-a-freezing-request", "scope-of-article-93-1-k"),
    content=Content(
        title="Freezing assets for the Court: no link between the crime and the assets is required",
        document_number="ICC-ACRed-01/16", chamber="appeals", decision_date=date(2016, 2, 15),
        holding=(
            "When the Court asks a State to **identify, trace and freeze or seize** property and assets, "
            "the request does not have to show a link between the crimes charged and the assets. "
            "The Appeals Chamber so decided on 15 February 2016 (ICC-ACRed-01/16), as recalled in the "
            f"{BUREAU_2020}, para. 12 (a)."
        ),
        practice=(
            "- Most national laws require a link between the crime and the assets before they can be "
            "frozen or seized (same report, para. 12 (a)). A request of the Court under articles 57(3)(e) "
            "and 93(1)(k) of the Rome Statute should not be refused or delayed because it does not "
            "establish such a link.\n"
            "- Check now whether your national procedures (article 88) allow a freezing measure without "
            "that link; if they do not, tell the Court early and consult it under article 97.\n"
            "- Protective measures serve the eventual enforcement of forfeiture and reparation orders "
            "(articles 75, 77(2)(b) and 109), and can help to cover the costs of legal aid."
        ),
        body=(
            "## Why it matters\n\n"
            "The Assembly's co-facilitators on cooperation identified this point as one of the two main "
            "obstacles to financial investigations in 2019 (same report, para. 12). The platform's "
            "case-law section exists to explain it (para. 13 (c)).\n\n"
            "## Where to read more\n\n"
            "The report cites the decision by its symbol only. Registry editors: add the link to the "
            "public redacted decision and its situation and case when you review this demo explainer.\n\n"
            "*Demo content, prepared from public Assembly documents.*"
        ),
        topics=("freezing", "tracing", "seizure", "forfeiture", "reparations"),
        articles=("57(3)(e)", "75", "77", "88", "93", "93(1)(k)", "97", "109"),
    ),
)

FREEZING_FR = DemoItem(
    slug="gel-des-avoirs-aucun-lien-requis",
    kind=ItemKind.EXPLAINER, language=Language.FR, translation_of=FREEZING_EN.slug,
    related=("executing-a-freezing-request",),
    content=Content(
        title="Gel des avoirs à la demande de la Cour : aucun lien entre le crime et les avoirs n'est requis",
        document_number="ICC-ACRed-01/16", chamber="appeals", decision_date=date(2016, 2, 15),
        holding=(
            "Lorsque la Cour demande à un État d'**identifier, localiser, geler ou saisir** des biens et "
            "avoirs, la demande n'a pas à établir un lien entre les crimes reprochés et ces avoirs. "
            "La Chambre d'appel l'a décidé le 15 février 2016 (ICC-ACRed-01/16), comme le rappelle le "
            "rapport du Bureau sur la coopération (Assemblée des États Parties, dix-neuvième session, "
            "8 décembre 2020), par. 12 a)."
        ),
        practice=(
            "- La plupart des législations nationales exigent un tel lien avant tout gel ou saisie "
            "(même rapport, par. 12 a)). Une demande de la Cour fondée sur les articles 57-3-e et 93-1-k "
            "du Statut de Rome ne devrait pas être rejetée ou retardée faute d'établir ce lien.\n"
            "- Vérifiez dès maintenant si vos procédures nationales (article 88) permettent une mesure "
            "de gel sans ce lien ; sinon, informez rapidement la Cour et consultez-la (article 97).\n"
            "- Les mesures conservatoires servent l'exécution future des ordonnances de confiscation et "
            "de réparation (articles 75, 77-2-b et 109)."
        ),
        body="*Contenu de démonstration, préparé à partir de documents publics de l'Assemblée.*",
        topics=("freezing", "tracing", "seizure", "forfeiture", "reparations"),
        articles=("57(3)(e)", "75", "77", "88", "93", "93(1)(k)", "97", "109"),
    ),
)

SCOPE_93_1_K = DemoItem(
    slug="scope-of-article-93-1-k",
    kind=ItemKind.GUIDANCE, language=Language.EN,
    related=(FREEZING_EN.slug, "executing-a-freezing-request"),
    content=Content(
        title="What article 93(1)(k) covers: identification, tracing, freezing and seizure",
        guidance_kind="faq",
        body=(
            "## What can the Court ask for?\n\n"
            "Under article 93(1)(k) of the Rome Statute, States Parties comply with requests for the "
            "identification, tracing and freezing or seizure of proceeds, property and assets and "
            "instrumentalities of crimes, for the purpose of eventual forfeiture and without prejudice "
            "to the rights of bona fide third parties.\n\n"
            "## Who asks, and when?\n\n"
            "Before trial, the Pre-Trial Chamber may seek this cooperation to take protective measures "
            "for the purpose of forfeiture, in particular for the ultimate benefit of victims "
            "(article 57(3)(e)).\n\n"
            "## What is it for?\n\n"
            "The Assembly recognises that effective and expeditious cooperation on these requests is "
            "crucial to reparations for victims and may help to address the costs of legal aid "
            f"({BUREAU_2020}, annex I, para. 12).\n\n"
            "## Does the request need to show that the assets come from the crime?\n\n"
            "No: see the explainer on the Appeals Chamber decision of 15 February 2016.\n\n"
            "*Demo content, prepared from public Assembly documents.*"
        ),
        topics=("tracing", "freezing", "seizure", "forfeiture", "reparations", "legal_aid"),
        articles=("57(3)(e)", "93", "93(1)(k)", "109"),
    ),
)

LEGAL_AID = DemoItem(
    slug="orders-to-contribute-to-legal-aid-costs",
    kind=ItemKind.GUIDANCE, language=Language.EN,
    related=("scope-of-article-93-1-k",),
    content=Content(
        title="Orders to contribute to legal-aid costs when an accused thought indigent is not",
        guidance_kind="how_to",
        body=(
            "## The situation\n\n"
            "The Court pays for the defence of a suspect or accused who appears to be indigent. If it "
            "later turns out that the person has means, the Court may order them to contribute to the "
            "costs of legal aid, and may ask States to help enforce that order.\n\n"
            "## The difficulty\n\n"
            "Most States have no legislation to implement such an order of contribution "
            f"({BUREAU_2020}, para. 12 (b)).\n\n"
            "## What a national authority can do\n\n"
            "1. Identify which authority would receive and execute such an order, and say so to the "
            "Court in advance.\n"
            "2. Check whether the procedures used for the Court's requests under article 93(1)(k) "
            "(identification, tracing, freezing) can serve it; article 88 asks States to make "
            "procedures available for every form of cooperation.\n"
            "3. Where national law has a gap, consult the Court without delay (article 97).\n\n"
            "*Demo content, prepared from public Assembly documents.*"
        ),
        topics=("legal_aid", "tracing", "freezing", "national_procedures"),
        articles=("88", "93(1)(k)", "97"),
    ),
)

TRAVEL_EN = DemoItem(
    slug="orders-on-information-about-travel-of-suspects",
    kind=ItemKind.EXPLAINER, language=Language.EN,
    content=Content(
        title="Information about the travel of suspects at large: the Pre-Trial Chamber's orders to the Registrar",
        document_number="ICC-02/05-01/09-235-Corr", chamber="pre_trial_ii", decision_date=date(2016, 4, 15),
        situation="Darfur, Sudan (ICC-02/05)", case_name="ICC-02/05-01/09",
        holding=(
            "Pre-Trial Chamber II ordered the Registry to act whenever the Court, or any of its organs, "
            "receives information on the planned or ongoing travel of a person for whom a warrant of "
            "arrest is in effect and who is still at large "
            f"({COURT_2016}, para. 54)."
        ),
        practice=(
            "- Share any information on the potential or confirmed travel of persons subject to a "
            "warrant of arrest with the Court promptly, and with the Assembly's focal points on "
            f"non-cooperation ({NONCOOP_2020}, paras. 8-9).\n"
            "- Expect follow-up requests for arrest and surrender: under the orders the Registry sent "
            "27 of them between 2 September 2015 and 1 September 2016 "
            f"({COURT_2016}, para. 55).\n"
            "- Make sure someone in the competent national institution can be reached urgently, "
            "also after working hours and at weekends (same report, para. 58), and use the joint "
            "OTP-Registry e-mail address for travel information (para. 59)."
        ),
        body="*Demo content, prepared from public Assembly documents.*",
        topics=("arrest_surrender", "travel", "non_cooperation"),
        articles=("86", "87", "89", "97", "112"),
    ),
)

TRAVEL_FR = DemoItem(
    slug="ordonnances-sur-les-deplacements-des-suspects",
    kind=ItemKind.EXPLAINER, language=Language.FR, translation_of=TRAVEL_EN.slug,
    content=Content(
        title="Informations sur les déplacements de suspects en fuite : les ordonnances de la Chambre préliminaire au Greffier",
        document_number="ICC-02/05-01/09-235-Corr", chamber="pre_trial_ii", decision_date=date(2016, 4, 15),
        situation="Darfour, Soudan (ICC-02/05)", case_name="ICC-02/05-01/09",
        holding=(
            "La Chambre préliminaire II a ordonné au Greffe d'agir chaque fois que la Cour, ou l'un de "
            "ses organes, reçoit des informations sur le déplacement, prévu ou en cours, d'une personne "
            "visée par un mandat d'arrêt en vigueur et toujours en fuite (rapport de la Cour sur la "
            "coopération, Assemblée des États Parties, quinzième session, 11 octobre 2016, par. 54)."
        ),
        practice=(
            "- Communiquez sans délai à la Cour, ainsi qu'aux points focaux de l'Assemblée sur la "
            "non-coopération, toute information sur le déplacement possible ou confirmé d'une personne "
            "visée par un mandat d'arrêt.\n"
            "- Veillez à ce qu'une personne de l'institution nationale compétente soit joignable en "
            "urgence, y compris en dehors des heures de bureau et le week-end (même rapport, par. 58)."
        ),
        body="*Contenu de démonstration, préparé à partir de documents publics de l'Assemblée.*",
        topics=("arrest_surrender", "travel", "non_cooperation"),
        articles=("86", "87", "89", "97", "112"),
    ),
)

FREEZING_GUIDANCE = DemoItem(
    slug="executing-a-freezing-request",
    kind=ItemKind.GUIDANCE, language=Language.EN,
    related=(FREEZING_EN.slug, SCOPE_93_1_K.slug),
    content=Content(
        title="Executing a request of the Court to freeze assets: a checklist",
        guidance_kind="how_to",
        body=(
            "1. **Receive it through the right channel.** Requests come through the channel your State "
            "designated under article 87(1); keep the request confidential except as needed to execute "
            "it (article 87(3)).\n"
            "2. **Check the content.** A request under article 93 states what article 96 lists; if "
            "something is missing, ask the Registry rather than wait.\n"
            "3. **Do not ask for a link between the crime and the assets.** The Appeals Chamber held "
            "on 15 February 2016 that none is required.\n"
            "4. **Act fast.** Assets move quickly: identify the competent authority for each measure "
            "(banks, land registers, company registers) in advance.\n"
            "5. **Use informal contact too.** The Registrar encouraged national contact points with "
            "expertise in freezing and recovering assets, and informal exchanges alongside the formal "
            f"channels ({BUREAU_2020}, para. 16).\n"
            "6. **Consult when blocked.** If national law or practice prevents execution, consult the "
            "Court without delay (article 97).\n"
            "7. **Report back** on what was found and frozen, and keep the measures under review.\n\n"
            "*Demo content, prepared from public Assembly documents.*"
        ),
        topics=("freezing", "tracing", "seizure", "national_procedures"),
        articles=("87", "93", "93(1)(k)", "96", "97", "99", "100"),
    ),
)

DEMO_ITEMS: tuple[DemoItem, ...] = (FREEZING_EN, FREEZING_FR, SCOPE_93_1_K, LEGAL_AID, TRAVEL_EN, TRAVEL_FR,
                                    FREEZING_GUIDANCE)


def run(session: Session, now: datetime | None = None) -> int:
    """Load the demo items that are not there yet; returns how many were added. No commit."""
    now = now or utcnow()
    actor = Actor.system("seed-demo")
    by_slug: dict[str, CaselawItem] = {}
    added = 0
    for demo in DEMO_ITEMS:
        existing = services.item_by_slug(session, demo.slug)
        if existing is not None:
            by_slug[demo.slug] = existing
            continue
        source = by_slug.get(demo.translation_of) if demo.translation_of else None
        by_slug[demo.slug] = publish_imported(session, kind=demo.kind, language=demo.language, slug=demo.slug,
                                              content=demo.content, actor=actor, translation_of=source,
                                              is_demo=True, now=now)
        added += 1
    # Related items point forward and back, so they are set once every item exists.
    for demo in DEMO_ITEMS:
        item = by_slug[demo.slug]
        wanted = tuple(sorted(by_slug[s].id for s in demo.related if s in by_slug))
        version = item.published_version or item.current_version
        if added and version is not None and wanted and tuple(version.related_ids) != wanted:
            from cooperation.caselaw.models import CaselawVersionRelated

            version.related_rows = [CaselawVersionRelated(related_item_id=i) for i in wanted]
    session.flush()
    return added
