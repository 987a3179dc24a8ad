"""Baskets: several items in one order, each with its quantity and price. Pure.

Owns: what a basket step (StepKind.BASKET) shows and does, as flow configuration rather than
code for one flow. A flow that has a basket step collects items as any flow does: a menu
option that sets `item` (its option id is the item, priced in the hotel's `orders.prices`),
then an input saved as `quantity`; arriving at the basket step adds that line. The basket
step then offers, in the guest's language (config/strings.yaml):

  overview  its text, one "2 × Coffee  £7.00" a line, the total, whether it is charged to
            the room; options "Add another item" (to the step's `add`), "Review order" (to
            its `next`) and "Change or remove"; an empty basket offers only "Add an item"
  edit      one option per line ("2 × Coffee"; the lines in full above them, as a button
            title is cut at 20 characters) and "Back to the order"
  line      "How many <item>? 0 removes it": an integer 0..max_quantity

Each view is an ordinary menu or input step built from the context (`view`), so the engine
renders, matches and validates it like any other; reply ids stay "<flow>.<basket step>:<key>".
The basket itself is one step_data value, "coffee*2,club_sandwich*1" (context values are
scalars), kept across "Add another item" (it is no step's answer, so going back never drops
it). Going back to the quantity and answering again corrects that line instead of adding it
twice: each pick of an item gets a number (`basket_pick`), and the line records what it added
for which pick (`basket_added`).

A request made by a flow with a basket carries all lines and the total (`request_data`):
items (one "2 × Coffee — £7.00" a line, in the guest's language as they confirmed it), total
("£35.50"), amount (35.5), currency, charged_to_room, and the basket itself; the per-item
keys are dropped.
Amounts are written for the hotel's locale by Babel (currency symbol, decimal separator).
Must never do I/O, read the clock or log.
"""

from __future__ import annotations

from collections.abc import Mapping
from decimal import Decimal
from functools import lru_cache

from babel.numbers import format_currency

from hotelbot.flows.context import Context
from hotelbot.flows.memo import remember
from hotelbot.flows.model import Flow, Hotel, Next, Option, Step, StepKind, Text, Validator
from hotelbot.flows.model import ValidatorKind as VK
from hotelbot.typedefs import JSONScalar, StepId

__all__ = [
    "BASKET", "ITEM", "MAX_LINES", "QUANTITY", "RESTATED", "STATE_KEYS", "VARIABLES", "absorb",
    "basket_step", "chosen", "hidden", "item_options", "lines", "money", "request_data",
    "variable", "variables", "view",
]

BASKET = "basket"  # step_data: the basket, "coffee*2,tea*1"
ITEM = "item"  # step_data: the name of the item chosen (an option's `set`)
QUANTITY = "quantity"  # step_data: how many of it (an input's save_as)
_ITEM_ID = "basket_item"  # the id of the item chosen last (the option's id)
_PICK = "basket_pick"  # how many items were chosen so far: numbers each pick
_ADDED = "basket_added"  # "<pick>*<quantity>": what the last arrival added, for which pick
_MODE = "basket_mode"  # "" overview, "edit", or the item id whose quantity is being changed
_NEW_QUANTITY = "basket_quantity"  # the answer of the line view
_INTERNAL = frozenset({_ITEM_ID, _PICK, _ADDED, _MODE, _NEW_QUANTITY})
STATE_KEYS = _INTERNAL | {BASKET}  # step_data a basket keeps that no step answers
# Request values for machines that restate what the confirmation shows as its lines ("items"),
# total and payment text: the basket, the amount as a number, the currency, charged_to_room.
RESTATED = frozenset({BASKET, "amount", "currency", "charged_to_room"})
MAX_LINES = 9  # the edit view lists the lines and "Back to the order": a list of <= 10 rows

Lines = tuple[tuple[str, int], ...]


# Memo of each flow's basket step and item options, keyed by the flow's id and holding the
# flow, so an id is never reused while cached (flows are immutable; a reload brings new ones):
# every message of a basket flow looked for them, once per line shown (issue 13). Pure.
_SHAPES: dict[int, tuple[Flow, Step | None, Mapping[str, Option]]] = {}
_SHAPES_MAX = 1024


def _shape(flow: Flow) -> tuple[Flow, Step | None, Mapping[str, Option]]:
    hit = _SHAPES.get(id(flow))
    if hit is not None and hit[0] is flow:
        return hit
    step = next((s for s in flow.steps.values() if s.kind is StepKind.BASKET), None)
    items = {option.id: option for s in flow.steps.values() if s.kind is StepKind.MENU
             for option in s.options if ITEM in option.set}
    return remember(_SHAPES, id(flow), (flow, step, items), _SHAPES_MAX)


def basket_step(flow: Flow) -> Step | None:
    """The flow's basket step, if it has one."""
    return _shape(flow)[1]


def item_options(flow: Flow) -> dict[str, Option]:
    """Every option of the flow's menus that chooses an item (sets `item`), by id."""
    return dict(_shape(flow)[2])


def lines(value: JSONScalar) -> Lines:
    """The basket's lines, (item id, quantity), in the order they were added."""
    if not isinstance(value, str) or not value:
        return ()
    found: dict[str, int] = {}
    for part in value.split(","):
        item, _, count = part.partition("*")
        if item and count.isdigit() and int(count) > 0:
            found[item] = int(count)
    return tuple(found.items())


def _encode(basket: Lines) -> str:
    return ",".join(f"{item}*{count}" for item, count in basket if count > 0)


def _with(basket: Lines, item: str, count: int) -> Lines:
    """The basket with `item`'s quantity set to `count` (0 removes it; a new item goes last)."""
    if any(i == item for i, _ in basket):
        return tuple((i, count if i == item else c) for i, c in basket if i != item or count > 0)
    return (*basket, (item, count)) if count > 0 else basket


def chosen(flow: Flow, option: Option, ctx: Context) -> Context:
    """A menu option was chosen: if it picks an item of a basket flow, number the pick."""
    if ITEM not in option.set or basket_step(flow) is None:
        return ctx
    pick = ctx.step_data.get(_PICK)
    number = pick + 1 if isinstance(pick, int) else 1
    return ctx.evolve(step_data={**ctx.step_data, _ITEM_ID: option.id, _PICK: number})


def absorb(flow: Flow, step: Step, ctx: Context) -> tuple[Context, str | None]:
    """Arriving at the basket step: fold in the item just chosen (or the line's new quantity).

    Returns:
        The context and, when the item could not be added (the basket is full), the key of
        the string that says so.
    """
    data = dict(ctx.step_data)
    basket = lines(data.get(BASKET))
    notice: str | None = None
    mode, new = data.get(_MODE), data.pop(_NEW_QUANTITY, None)
    if isinstance(mode, str) and mode not in ("", "edit") and isinstance(new, int):
        basket = _with(basket, mode, min(new, step.max_quantity))
        data[_MODE] = ""
    item, count, pick = data.get(_ITEM_ID), data.get(QUANTITY), data.get(_PICK)
    if isinstance(item, str) and isinstance(count, int) and isinstance(pick, int):
        before, _, added = str(data.get(_ADDED, "")).partition("*")
        already = int(added) if before == str(pick) and added.isdigit() else 0
        if count == already:
            pass  # this pick is in the basket already (an edit view, a line changed)
        elif not already and item not in dict(basket) and len(basket) >= MAX_LINES:
            notice = "basket_full"
            data[_ADDED] = f"{pick}*0"
        else:
            total = dict(basket).get(item, 0) - already + count
            basket = _with(basket, item, max(0, min(total, step.max_quantity)))
            data[_ADDED] = f"{pick}*{count}"
            data[_MODE] = ""
    data[BASKET] = _encode(basket)
    return ctx.evolve(step_data=data), notice


def _string(hotel: Hotel, key: str, lang: str) -> str:
    text = hotel.strings.get(key)
    return text.get(lang, hotel.default_language) if text is not None else key


def item_name(flow: Flow, item: str, lang: str, default: str) -> str:
    """What the item is called in `lang`: the name its option saves, else its title."""
    option = _shape(flow)[2].get(item)
    if option is None:
        return item
    name = option.set.get(ITEM)
    if isinstance(name, Text):
        return name.get(lang, default)
    return name if isinstance(name, str) and name else option.title.get(lang, default)


def money(hotel: Hotel, amount: Decimal) -> str:
    """An amount in the hotel's currency, written for the hotel's locale ("£12.50")."""
    return _money(amount, hotel.orders.currency, hotel.locale)


@lru_cache(maxsize=4096)
def _money(amount: Decimal, currency: str, locale: str) -> str:
    """Babel's formatting is the engine's dearest call (CLDR lookups each time) and a menu's
    amounts repeat on every message: remembered per (amount, currency, locale)."""
    try:
        return format_currency(amount, currency, locale=locale)
    except (ValueError, LookupError):  # a locale or currency Babel lacks: never raise
        return f"{amount:.2f} {currency}"


def _price(hotel: Hotel, item: str) -> Decimal:
    return hotel.orders.prices.get(item, Decimal(0))


def total(hotel: Hotel, basket: Lines) -> Decimal:
    return sum((_price(hotel, item) * count for item, count in basket), Decimal(0))


def _line(hotel: Hotel, flow: Flow, item: str, count: int, lang: str) -> str:
    name = item_name(flow, item, lang, hotel.default_language)
    return f"{count} × {name} — {money(hotel, _price(hotel, item) * count)}"


def summary(hotel: Hotel, flow: Flow, basket: Lines, lang: str) -> str:
    """One line per item with its price, the total and how it is paid, in `lang`."""
    if not basket:
        return _string(hotel, "basket_empty", lang)
    shown = [_line(hotel, flow, item, count, lang) for item, count in basket]
    shown.append(f"{_string(hotel, 'basket_total', lang)}: {money(hotel, total(hotel, basket))}")
    payment = "basket_charged_to_room" if hotel.orders.charge_to_room else "basket_pay_on_delivery"
    shown.append(_string(hotel, payment, lang))
    return "\n".join(shown)


VARIABLES = frozenset({"order_count", "order_lines", "order_total", "order_payment"})


def variables(hotel: Hotel, flow: Flow | None, ctx: Context) -> dict[str, str]:
    """{order_lines}, {order_total}, {order_payment} and {order_count} (how many items, for a
    plural: "{order_count, plural, one {# item} other {# items}}") for a basket flow."""
    if flow is None or basket_step(flow) is None:
        return {}
    lang = ctx.language
    basket = lines(ctx.step_data.get(BASKET))
    payment = "basket_charged_to_room" if hotel.orders.charge_to_room else "basket_pay_on_delivery"
    return {
        "order_count": str(sum(count for _, count in basket)),
        "order_lines": "\n".join(_line(hotel, flow, i, c, lang) for i, c in basket),
        "order_total": money(hotel, total(hotel, basket)),
        "order_payment": _string(hotel, payment, lang),
    }


def variable(hotel: Hotel, flow: Flow | None, ctx: Context, name: str) -> str | None:
    """One of `variables`, worked out alone (a text names one or two of them); None when the
    flow has no basket or `name` is none of them."""
    if flow is None or name not in VARIABLES or basket_step(flow) is None:
        return None
    lang = ctx.language
    if name == "order_payment":
        charged = hotel.orders.charge_to_room
        return _string(hotel, "basket_charged_to_room" if charged else "basket_pay_on_delivery",
                       lang)
    basket = lines(ctx.step_data.get(BASKET))
    if name == "order_count":
        return str(sum(count for _, count in basket))
    if name == "order_lines":
        return "\n".join(_line(hotel, flow, i, c, lang) for i, c in basket)
    return money(hotel, total(hotel, basket))


def hidden(flow: Flow) -> frozenset[str]:
    """Values a confirmation does not list for a basket flow: the last item and quantity
    (the basket lists every line)."""
    return frozenset({ITEM, QUANTITY}) if basket_step(flow) is not None else frozenset()


def request_data(hotel: Hotel, flow: Flow, data: Mapping[str, JSONScalar],
                 lang: str) -> dict[str, JSONScalar]:
    """What a basket flow's request carries: every line, the total; no per-item keys."""
    if basket_step(flow) is None:
        return dict(data)
    basket = lines(data.get(BASKET))
    kept = {k: v for k, v in data.items() if k not in _INTERNAL | {ITEM, QUANTITY}}
    kept.update({
        BASKET: _encode(basket),
        "items": "\n".join(_line(hotel, flow, i, c, lang) for i, c in basket),
        "total": money(hotel, total(hotel, basket)),
        "amount": float(total(hotel, basket)),
        "currency": hotel.orders.currency,
        "charged_to_room": hotel.orders.charge_to_room,
    })
    return kept


# Memo of view, keyed by the hotel's, flow's and step's ids (each entry holding them, so an id
# is never reused while cached) and all view reads of the context: a turn at the basket views
# it twice (the step answered, the step shown), and a view that stays the same object keeps
# its entries and labels memoized downstream (issue 13). Pure: no I/O.
_VIEWS: dict[tuple[int, int, int, str, JSONScalar, JSONScalar],
             tuple[Hotel, Flow, Step, Step]] = {}
_VIEWS_MAX = 4096


def view(hotel: Hotel, flow: Flow, step: Step, ctx: Context) -> Step:
    """The basket step as the guest sees it now: a menu (overview, edit) or an input (line)."""
    data = ctx.step_data
    key = (id(hotel), id(flow), id(step), ctx.language, data.get(BASKET), data.get(_MODE))
    hit = _VIEWS.get(key)
    if hit is not None and hit[0] is hotel and hit[1] is flow and hit[2] is step:
        return hit[3]
    shown = _view(hotel, flow, step, ctx.language, key[4], key[5])
    remember(_VIEWS, key, (hotel, flow, step, shown), _VIEWS_MAX)
    return shown


def _view(hotel: Hotel, flow: Flow, step: Step, lang: str, value: JSONScalar,
          mode: JSONScalar) -> Step:
    basket = lines(value)
    here = Next(default=step.id)

    def option(key: str, string_key: str, to: Next, **values: JSONScalar) -> Option:
        return Option(id=key, title=Text({lang: _string(hotel, string_key, lang)}), next=to,
                      set=values)

    if mode == "edit" and basket:
        options = [Option(id=item, title=Text({lang: f"{count} × " + item_name(
                       flow, item, lang, hotel.default_language)}), next=here,
                          set={_MODE: item}) for item, count in basket]
        options.append(option("done", "basket_done", here, **{_MODE: ""}))
        listed = "\n".join(f"{i}. {count} × " + item_name(flow, item, lang, hotel.default_language)
                           for i, (item, count) in enumerate(basket, 1))
        body = _string(hotel, "basket_edit_text", lang) + "\n\n" + listed  # titles are clipped
        return _as(step, StepKind.MENU, body, lang, options=tuple(options))
    if isinstance(mode, str) and mode in dict(basket):
        name = item_name(flow, mode, lang, hotel.default_language)
        body = _string(hotel, "basket_quantity", lang).replace("{item}", name)
        validator = Validator(kind=VK.INTEGER, min=0, max=step.max_quantity)
        return _as(step, StepKind.INPUT, body, lang, validator=validator,
                   save_as=_NEW_QUANTITY, next=here)
    add_to = Next(default=step.add)
    if not basket:
        return _as(step, StepKind.MENU, summary(hotel, flow, basket, lang), lang,
                   options=(option("add", "basket_add_first", add_to),))
    body = step.text.get(lang, hotel.default_language) + "\n\n" + summary(
        hotel, flow, basket, lang)
    return _as(step, StepKind.MENU, body, lang, options=(
        option("add", "basket_add", add_to),
        option("review", "basket_review", step.next or here),
        option("edit", "basket_change", here, **{_MODE: "edit"}),
    ))


def _as(step: Step, kind: StepKind, body: str, lang: str, *, options: tuple[Option, ...] = (),
        validator: Validator | None = None, save_as: str | None = None,
        next: Next | None = None) -> Step:
    return Step(id=StepId(step.id), kind=kind, text=Text({lang: body}), header=step.header,
                footer=step.footer, button=step.button, options=options, validator=validator,
                save_as=save_as, next=next)
