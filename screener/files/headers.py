"""Header vocabulary: which labels name a party, a country or an address, in the languages of the
files customers send (English ERP and SAP exports, German, French, Spanish, Italian, Portuguese,
Dutch, Chinese).

Labels are compared after NFKC, casefolding and dropping all but letters and digits, so spacing,
punctuation and full-width forms never matter. A party label is a role ("Ship To", "End User",
"Ultimate Consignee", "Freight Forwarder", "Warenempfänger", "Destinataire", "客户"...), optionally
followed by a name word ("Name", "Party", "名称"; German compounds: "Kundenname"), or preceded by one
as the Romance languages write it ("Nom du client", "Nombre del cliente", "Nome cliente"), a generic
name ("Name", "Name 1", "Raison sociale", "名称"), either with a language qualifier ("Chinese Name",
"Name (EN)", "中文名称"), or a role-qualified name with any tail ("Company Name (English)").
"Customer No", "Kundennummer", "Contact Name" or "Product Name" are not party labels. Country and
address labels may carry a role prefix ("Ship To Country"), which pairs them with that party.
"""

from __future__ import annotations

import re
import unicodedata
from typing import Literal, NamedTuple

LabelKind = Literal["party", "country", "address"]


def normalise_label(label: object) -> str:
    """Header label reduced to casefolded letters and digits, so spacing and punctuation never matter."""
    text = unicodedata.normalize("NFKC", str(label)).casefold()
    return "".join(ch for ch in text if ch.isalnum())


def _norm(words: tuple[str, ...]) -> tuple[str, ...]:
    return tuple(dict.fromkeys(normalise_label(w) for w in words))


# Tried longest first (`_role_of`), so "ultimate consignee" is found before "consignee", "cliente" before "client".
ROLES = _norm((
    "ultimate consignee", "intermediate consignee", "freight forwarder", "forwarding agent",
    "notify party", "sold to party", "ship to party", "bill to party", "sold to", "ship to", "bill to",
    "end user", "enduser", "consignee", "forwarder", "payer", "customer", "company", "party", "entity",
    "organisation", "organization", "account", "client", "buyer", "purchaser", "supplier", "vendor",
    "importer", "receiver", "recipient", "distributor", "dealer", "legal", "business", "firm",
    "收货单位", "收货人", "最终用户", "最终收货人", "中间收货人", "货代", "客户", "公司", "单位", "企业",
    "买方", "购买方", "收件人", "经销商",
    # German (compounds join a role and "name": "Kundenname", "Firmenname")
    "rechnungsempfänger", "warenempfänger", "empfänger", "auftraggeber", "endverwender", "endverbleib",
    "endabnehmer", "endkunde", "abnehmer", "besteller", "käufer", "regulierer", "spediteur", "lieferant",
    "händler", "geschäftspartner", "kunden", "kunde", "firmen", "firma", "unternehmen", "gesellschaft",
    # French, Spanish, Italian, Portuguese, Dutch
    "destinataire final", "destinataire", "utilisateur final", "acheteur", "fournisseur", "transitaire",
    "société", "entreprise", "destinatario final", "destinatario", "destinatário", "consignatario",
    "usuario final", "usuário final", "utilizador final", "utilizzatore finale", "utente finale",
    "comprador", "acquirente", "proveedor", "fornitore", "fornecedor", "transitario", "spedizioniere",
    "cliente", "empresa", "società", "ditta", "klant", "ontvanger", "eindgebruiker", "leverancier",
    "bedrijf", "koper",
))
NAME_WORDS = _norm(("party name", "name", "naam", "party", "名称", "名字", "名"))
GENERIC_NAMES = _norm((
    "name", "full name", "名称", "名字", "姓名", "nom", "nombre", "nome", "naam",
    "raison sociale", "razón social", "razon social", "ragione sociale", "razão social", "razao social",
    "dénomination", "denominación", "denominazione", "denominação", "firmierung", "bedrijfsnaam",
))
# A name word before the role, with the article between ("Nom du client", "Nombre del destinatario").
NAME_FIRST = _norm((
    "nom du", "nom de la", "nom de l", "nom de", "nom", "nombre del", "nombre de la", "nombre de",
    "nombre", "nome do", "nome da", "nome del", "nome della", "nome di", "nome", "naam van de", "naam",
))
LANGUAGES = _norm((
    "english", "eng", "en", "chinese", "cn", "zh", "local", "native", "latin", "中文", "英文",
))
COUNTRY_WORDS = _norm((
    "country", "country code", "country/region", "country or region", "country key", "country name",
    "iso country", "country iso", "country of destination", "destination country", "destination",
    "nation", "ctry", "cntry", "land", "land1", "iso", "iso code", "iso2", "iso3", "iso 3166",
    "pays", "país", "pais", "país de destino", "nación", "staat", "land/region", "paese", "nazione",
    "bestimmungsland", "lieferland", "zielland", "ländercode", "landescode", "pays de destination",
    "code pays", "país destino", "código país", "paese di destinazione", "landcode",
    "国家", "国家/地区", "国家或地区", "国别", "国家代码", "目的国", "国家名称",
))
ADDRESS_WORDS = _norm((
    "full address", "address", "street address", "address line 1", "address 1", "addr",
    "postal address", "street / city", "street", "street and number", "strasse", "anschrift",
    "adresse", "dirección", "direccion", "indirizzo", "city", "town", "ort", "stadt", "ville",
    "ciudad", "città", "cidade", "localité", "localidad", "località", "plaats", "woonplaats", "endereço",
    "morada", "adres", "rue", "calle", "详细地址", "地址", "公司地址", "注册地址", "收货地址", "城市",
))
# Labels that show a row is a header even when no party label is on it (a customer's own fields).
FIELD_WORDS = _norm((
    "id", "no", "nr", "number", "nummer", "numéro", "número", "numero", "code", "ref", "reference", "key",
    "date", "datum", "fecha", "data", "qty", "quantity", "menge", "quantité", "cantidad",
    "amount", "value", "price", "currency", "item", "material", "sku", "order", "status", "type",
    "email", "phone", "tel", "fax", "notes", "remarks", "comment", "comments", "contact",
    "序号", "编号", "日期", "数量", "金额", "备注",
))
_FIELD_TAIL = re.compile(r"(id|no|nr|number|nummer|code|ref|date|datum|编号|日期)$")


class Label(NamedTuple):
    kind: LabelKind
    stem: str  # the role it belongs to ("shipto"), "" for a plain name, country or address
    rank: int  # for the primary party column: 0 role + name word, 1 role alone, 2 plain name


def _forms(label: str) -> list[str]:
    """The label, then without trailing digits ("Name 1") or a language ("Chinese Name", "Name EN")."""
    bare = label.rstrip("0123456789") or label
    forms = [label, bare]
    for lang in LANGUAGES:
        if bare.endswith(lang) and len(bare) > len(lang):
            forms.append(bare[: -len(lang)].rstrip("0123456789"))
        if bare.startswith(lang) and len(bare) > len(lang):
            forms.append(bare[len(lang):])
    return forms


_LONGEST_FIRST = sorted(ROLES, key=len, reverse=True)


def _role_of(label: str) -> tuple[str, str] | None:
    """(role, rest) when the label starts with a role word."""
    for role in _LONGEST_FIRST:
        if label.startswith(role):
            return role, label[len(role):]
    return None


def _party_form(core: str) -> Label | None:
    if core in GENERIC_NAMES:
        return Label("party", "", 2)
    found = _role_of(core)
    if found is not None:
        role, rest = found
        stem = role.removesuffix("party") or role  # "Ship-to Party" pairs with "Ship To Country"
        if not rest:
            return Label("party", stem, 1)
        if rest in NAME_WORDS:
            return Label("party", stem, 0)
    return None


def party_label(label: str) -> Label | None:
    """A normalised label as a party column, or None."""
    if not label:
        return None
    for form in _forms(label):
        found = _party_form(form)
        if found is not None:
            return found
    role = _role_of(label)
    if role is not None and role[1].startswith(("name", "naam")):  # "Company Name (English)"
        return Label("party", role[0], 0)
    for first in NAME_FIRST:  # "Nom du client", "Nombre del destinatario final"
        if label.startswith(first) and (role := _role_of(label[len(first):])) is not None and not role[1]:
            return Label("party", role[0], 0)
    return None


def _fact_label(label: str, words: tuple[str, ...], kind: LabelKind) -> Label | None:
    core = label.rstrip("0123456789") or label
    if core in words:
        return Label(kind, "", 0)
    found = _role_of(core)
    if found is not None and found[1] in words:
        return Label(kind, found[0], 0)
    return None


def classify(label: str) -> Label | None:
    """What a normalised header label stands for: a party, a country, an address, or nothing."""
    return (_fact_label(label, COUNTRY_WORDS, "country")
            or _fact_label(label, ADDRESS_WORDS, "address")
            or party_label(label))


def fact_priority(label: str, kind: LabelKind) -> int:
    """Lower is better when several country (or address) columns share a role."""
    words = COUNTRY_WORDS if kind == "country" else ADDRESS_WORDS
    core = label.rstrip("0123456789") or label
    found = _role_of(core)
    core = found[1] if found is not None and found[1] in words else core
    return words.index(core) if core in words else len(words)


def is_field_label(label: str) -> bool:
    """A label of some other known field (an id, a date, a quantity): evidence of a header row."""
    return label in FIELD_WORDS or bool(_FIELD_TAIL.search(label))
