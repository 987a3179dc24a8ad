"""The engine's shortcuts for speed (issue 13) read exactly like the plain computations."""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from dataclasses import replace
from datetime import UTC, datetime, timedelta

import pytest

from hotelbot.config import load_hotels
from hotelbot.flows import (
    Context,
    Flow,
    Guest,
    Hotel,
    Option,
    SendMessage,
    Step,
    StepKind,
    Text,
    basket,
    remembered_mark,
)
from hotelbot.flows import engine as engine_module
from hotelbot.flows import guards as guards_module
from hotelbot.flows import render as render_module
from hotelbot.flows import text as text_module
from hotelbot.flows import words as words_module
from hotelbot.flows.availability import _menu_view, local, menu_view
from hotelbot.flows.context import Echo
from hotelbot.flows.events import OptionChosen, TextReceived
from hotelbot.flows.i18n import display_locale, expand_plurals
from hotelbot.flows.navigation import MARK_PREFIX
from hotelbot.flows.ratelimit import Bucket
from hotelbot.flows.render import (
    _VARIABLE,
    _render_step,
    _step_entries,
    entry_index,
    entry_titles,
    render_step,
    said,
    shared,
    shown_value,
    step_entries,
    string,
    substitute,
    summary_names,
    text_message,
    variables,
)
from hotelbot.flows.reply import _global_word
from hotelbot.flows.text import in_any_language, kinds_of
from hotelbot.flows.validators import match_choice, match_indexed, title_index
from hotelbot.typedefs import Dept, FlowId, HotelId, JSONScalar, StepId
from tests.paths import CONFIG
from tests.unit.fixtures import NOW, at


@pytest.mark.parametrize("changes", [
    {},
    {"error_count": 3},
    {"current_flow": None, "current_step": None, "step_data": {}, "navigation_stack": ()},
    {"rate": Bucket(tokens=2.0, counted_at=NOW), "cooloff_until": NOW + timedelta(minutes=5)},
    {"echo": Echo(fingerprint="f", since=NOW, count=2), "last_activity": NOW},
])
def test_evolve_is_dataclasses_replace(changes: dict[str, object]) -> None:
    before = at("order.quantity", stack=("main.start",), data={"item": "Tea"})
    snapshot = before.to_dict()
    after = before.evolve(**changes)  # type: ignore[arg-type]
    assert after == replace(before, **changes)  # type: ignore[arg-type]
    assert after.to_dict() == replace(before, **changes).to_dict()  # echo too (not compared)
    assert before.to_dict() == snapshot  # the original is untouched
    assert after is not before and type(after) is Context


def test_an_evolved_context_stays_frozen() -> None:
    with pytest.raises(AttributeError):
        at("order.quantity").evolve(error_count=1).error_count = 2  # type: ignore[misc]


def _category() -> tuple[Hotel, Step]:
    hotel = load_hotels(CONFIG).hotels[HotelId("demo_hotel")]  # London; breakfast 07:00-10:30
    return hotel, hotel.flows[FlowId("room_service_order")].steps[StepId("category")]


@pytest.mark.parametrize("utc", [
    "2026-11-25T10:29:59", "2026-11-25T10:30:00", "2026-11-25T10:30:59", "2026-11-25T23:59:00",
    "2026-11-26T00:00:30", "2026-07-01T09:45:00",  # summer: London is UTC+1
])
def test_a_memoized_menu_view_is_the_view_worked_out_afresh(utc: str) -> None:
    hotel, category = _category()
    moment = local(hotel, datetime.fromisoformat(utc).replace(tzinfo=UTC))
    first = menu_view(hotel, category, moment, "en")
    assert first == _menu_view(hotel, category, moment, "en")
    assert menu_view(hotel, category, moment.replace(second=1), "en") is first  # cached


def test_a_menu_view_changes_with_the_minute_and_the_hotel() -> None:
    hotel, category = _category()
    open_, closed = (local(hotel, datetime(2026, 11, 25, 10, m, tzinfo=UTC)) for m in (29, 30))
    assert menu_view(hotel, category, open_, "en") is category  # nothing closed: as configured
    assert menu_view(hotel, category, closed, "en") != category
    opens_at = Text.of("Opens again {when}")
    reloaded = replace(hotel, strings={**hotel.strings, "opens_at": opens_at})
    shown = menu_view(reloaded, category, closed, "en")
    assert "Opens again tomorrow at 07:00" in repr(shown)
    assert "Opens again" not in repr(menu_view(hotel, category, closed, "en"))


def test_memoized_entries_are_the_entries_worked_out_afresh_per_hotel() -> None:
    hotel, category = _category()
    confirm = hotel.flows[FlowId("room_service_order")].steps[StepId("confirm")]
    assert step_entries(hotel, category) == _step_entries(hotel, category)
    assert step_entries(hotel, category) is step_entries(hotel, category)
    renamed = replace(hotel, strings={**hotel.strings, "confirm": Text.of("Yes, send it")})
    assert step_entries(renamed, confirm)[0].title.get("en", "en") == "Yes, send it"
    assert step_entries(hotel, confirm) == _step_entries(hotel, confirm)
    assert step_entries(hotel, confirm)[0].title != Text.of("Yes, send it")


@pytest.mark.parametrize("template", ["", "no variable", "{room}", "Room {room}, {missing}",
                                      "{ room }", "{{room}}"])
def test_substitute_without_braces_is_the_template(template: str) -> None:
    expected = _VARIABLE.sub(lambda m: {"room": "205"}.get(m.group(1), m.group(0)), template)
    assert substitute(template, {"room": "205"}) == expected


def test_plural_forms_are_picked_per_number_each_time() -> None:
    template = "{n, plural, one {# item} other {# items}}, {m, plural, =0 {none} other {#}}"
    said = [expand_plurals(template, {"n": n, "m": m}, "en")
            for n, m in (("1", "0"), ("2", "3"), ("1", "0"), ("x", "1"))]
    assert said == ["1 item, none", "2 items, 3", "1 item, none",
                    "{n, plural, one {# item} other {# items}}, 1"]
    assert expand_plurals(template, {}, "pt").startswith("{n, plural,")


def _eager_variables(hotel: Hotel, ctx: Context, flow: Flow | None) -> dict[str, str]:
    """The values as render.variables built them before they were looked up lazily."""
    lang, default = ctx.language, hotel.default_language
    values = {name: text.get(lang, default) for name, text in hotel.variables.items()}
    if flow is not None:
        for step in flow.steps.values():
            values.update(dict.fromkeys((n for n in (step.save_as, step.remember) if n), ""))
            for option in step.options:
                values.update(dict.fromkeys(option.set, ""))
    department = hotel.departments.get(Dept(ctx.department))
    values.update(dict.fromkeys(("hotel_name", "guest_name", "room", "department"), ""))
    values["hotel_name"] = hotel.name
    values["department"] = department.name.get(lang, default) if department else ""
    where = display_locale(lang, hotel.locale)
    for source in (ctx.accumulated_data, ctx.step_data):
        values.update({k: shown_value(v, where) for k, v in source.items()
                       if not k.startswith(MARK_PREFIX)})
    values.update(basket.variables(hotel, flow, ctx))
    return values


@pytest.mark.parametrize(("flow_id", "data", "known"), [
    (None, {}, {}),
    ("room_service_order", {"basket": "tea*2,coffee*1", "quantity": 2, "item": "Tea"},
     {"room": "412", remembered_mark("room"): "2026-11-25", "guest_name": "Ana"}),
    ("late_checkout", {"checkout_time": "12:30", "room": "207"}, {"room": "412"}),
    ("check_in", {"arrival_date": "2026-12-04", "order_total": "shadowed"},
     {"hotel_name": "shadowed", "restaurant_hours": "mine"}),
])
def test_variables_read_as_the_values_built_eagerly(
        flow_id: str | None, data: dict[str, JSONScalar], known: dict[str, JSONScalar]) -> None:
    hotel, _ = _category()
    flow = hotel.flows[FlowId(flow_id)] if flow_id else None
    ctx = at("order.quantity").evolve(hotel_id=hotel.hotel_id, department="room_service",
                                      step_data=data, accumulated_data=known)
    expected = _eager_variables(hotel, ctx, flow)
    values = variables(hotel, ctx, flow)
    assert dict(values) == expected and len(values) == len(expected)
    assert all(values[name] == value for name, value in expected.items())
    assert values.get(remembered_mark("room"), "absent") == "absent"
    assert variables(hotel, ctx, flow, {"room": "1", "x": "y"}) == expected | {"room": "1",
                                                                               "x": "y"}


def test_a_basket_flow_gives_exactly_the_basket_variables() -> None:
    hotel, _ = _category()
    ctx = at("order.quantity").evolve(step_data={"basket": "tea*1"})
    flow = hotel.flows[FlowId("room_service_order")]
    assert set(basket.variables(hotel, flow, ctx)) == basket.VARIABLES


@pytest.mark.parametrize("shared", [True, False])
def test_a_snapshot_formats_each_time_of_its_own(shared: bool) -> None:
    later = NOW + timedelta(seconds=1)
    counted, since = (NOW, NOW) if shared else (later, NOW - timedelta(hours=1))
    ctx = at("order.quantity").evolve(last_activity=NOW, rate=Bucket(tokens=1.0,
                                      counted_at=counted), echo=Echo(since=since, count=1))
    snapshot = ctx.to_dict()
    assert snapshot["last_activity"] == NOW.isoformat()
    assert snapshot["rate"] == {"tokens": 1.0, "counted_at": counted.isoformat(),
                                "noticed": False}
    assert snapshot["echo"]["since"] == since.isoformat()  # type: ignore[index]
    restored = Context.from_dict(snapshot)
    assert restored == ctx and restored.echo == ctx.echo


def test_words_in_any_language_are_each_table_s_own() -> None:
    hotel, _ = _category()
    for kind, per_language in hotel.words.items():
        assert in_any_language(per_language) == frozenset().union(*per_language.values()), kind
    other = {"en": frozenset({"halt"}), "pt": frozenset({"parar"})}
    assert in_any_language(other) == {"halt", "parar"}
    assert in_any_language({}) == frozenset()
    assert "halt" not in in_any_language(hotel.words["stop"])


def _row_titles(message: SendMessage) -> list[str]:
    action = message.body["interactive"]["action"]  # type: ignore[index]
    return [row["title"] for section in action["sections"] for row in section["rows"]]


def test_menu_titles_naming_a_variable_are_filled_per_guest_each_time() -> None:
    hotel, category = _category()
    flow = hotel.flows[FlowId("room_service_order")]
    first = category.options[0]
    named = replace(category, options=(replace(first, title=Text.of("To room {room}")),
                                       *category.options[1:]))
    for room in ("101", "202", "101"):
        ctx = at("order.quantity").evolve(hotel_id=hotel.hotel_id, department="room_service",
                                          accumulated_data={"room": room})
        titles = _row_titles(render_step(hotel, ctx, flow, named))
        assert titles[0] == f"To room {room}"
        assert titles[1:] == _row_titles(render_step(hotel, ctx, flow, category))[1:]


@pytest.mark.parametrize("data", [
    {"basket": "tea*1"}, {"basket": "club_sandwich*2,tea*3,coffee*1"}, {}, {"basket": 7},
])
def test_each_basket_variable_alone_is_its_value_among_all(data: dict[str, JSONScalar]) -> None:
    hotel, _ = _category()
    ctx = at("order.quantity").evolve(step_data=data)
    flow = hotel.flows[FlowId("room_service_order")]
    every = basket.variables(hotel, flow, ctx)
    assert {name: basket.variable(hotel, flow, ctx, name) for name in every} == every
    assert basket.variable(hotel, flow, ctx, "room") is None
    assert basket.variable(hotel, hotel.flows[FlowId("check_in")], ctx, "order_count") is None


@pytest.mark.parametrize(("language", "data"), [
    ("en", {"basket": "tea*2"}), ("en", {"basket": "tea*2,coffee*1", "basket_mode": "edit"}),
    ("en", {"basket": "tea*2", "basket_mode": "tea"}), ("en", {}), ("pt", {"basket": "tea*2"}),
])
def test_a_memoized_basket_view_is_the_view_worked_out_afresh(
        language: str, data: dict[str, JSONScalar]) -> None:
    hotel, _ = _category()
    flow = hotel.flows[FlowId("room_service_order")]
    step = flow.steps[StepId("basket")]
    ctx = at("order.quantity").evolve(language=language, step_data={**data, "item": "x"})
    shown = basket.view(hotel, flow, step, ctx)
    assert shown == basket._view(hotel, flow, step, language, data.get("basket"),
                                 data.get("basket_mode"))
    assert basket.view(hotel, flow, step, ctx.evolve(step_data=dict(data))) is shown
    other = ctx.evolve(step_data={**data, "basket": "wine*1"})
    assert basket.view(hotel, flow, step, other) != shown


def _order_flow() -> tuple[Hotel, Flow]:
    hotel, _ = _category()
    return hotel, hotel.flows[FlowId("room_service_order")]


@pytest.mark.parametrize("notice", ["", "Welcome!", "Sorry, that is not an option."])
@pytest.mark.parametrize("language", ["en", "pt"])
def test_a_memoized_step_message_is_the_message_worked_out_afresh(
        notice: str, language: str) -> None:
    hotel, flow = _order_flow()
    category = flow.steps[StepId("category")]
    ctx = at("order.quantity").evolve(hotel_id=hotel.hotel_id, department="room_service",
                                      language=language, accumulated_data={"room": "412"})
    first = render_step(hotel, ctx, flow, category, notice)
    assert first == _render_step(hotel, ctx, flow, category, notice)
    other = ctx.evolve(accumulated_data={"room": "101"}, guest_id="351911111111")
    again = render_step(hotel, other, flow, category, notice)
    assert again is first and shared(first.body)  # the same for every guest: one message
    assert render_step(hotel, ctx, flow, category, notice + "!") != first


def test_steps_naming_the_guest_s_data_are_rendered_per_guest() -> None:
    hotel, flow = _order_flow()
    confirm = flow.steps[StepId("confirm")]  # lists the guest's answers
    named = replace(flow.steps[StepId("category")], text=Text.of("Room {room}: what?"))
    for step_ in (confirm, named):
        bodies = []
        for room in ("101", "202"):
            ctx = at("order.quantity").evolve(
                hotel_id=hotel.hotel_id, department="room_service", accumulated_data={
                    "room": room}, step_data={"basket": "tea*1", "item": "tea", "quantity": 1})
            message = render_step(hotel, ctx, flow, step_)
            assert message == _render_step(hotel, ctx, flow, step_, "")
            assert not shared(message.body)
            bodies.append(repr(message.body))
        assert bodies[0] != bodies[1]  # each guest reads their own room
    assert "Room 101: what?" in bodies[0] and "Room 202: what?" in bodies[1]


def test_a_reloaded_hotel_never_gets_the_old_hotel_s_messages() -> None:
    hotel, flow = _order_flow()
    category = flow.steps[StepId("category")]
    ctx = at("order.quantity").evolve(hotel_id=hotel.hotel_id, department="room_service")
    old = render_step(hotel, ctx, flow, category)
    reloaded = replace(hotel, strings={**hotel.strings, "nav_footer": Text.of("0 = start")})
    new = render_step(reloaded, ctx, flow, category)
    assert new is not old and "0 = start" in repr(new.body) and "0 = start" not in repr(old.body)
    assert render_step(hotel, ctx, flow, category) is old


def test_the_step_message_memo_is_bounded() -> None:
    hotel, flow = _order_flow()
    category = flow.steps[StepId("category")]
    ctx = at("order.quantity").evolve(hotel_id=hotel.hotel_id, department="room_service")
    for n in range(render_module._MESSAGES_MAX + 10):
        render_step(hotel, ctx, flow, category, f"notice {n}")
    assert len(render_module._MESSAGES) <= render_module._MESSAGES_MAX
    assert len(render_module._SHARED) == len(render_module._MESSAGES)
    assert all(shared(hit[3].body) for hit in render_module._MESSAGES.values())


def _plain_fingerprint(bodies: list[Mapping[str, object]]) -> str:
    """The loop guard's fingerprint as it was first computed (and is stored in snapshots)."""
    text = "\n".join(repr(body) for body in bodies)
    return hashlib.blake2b(text.encode(), digest_size=8).hexdigest()


def test_a_memoized_reply_fingerprint_is_the_fingerprint_worked_out_afresh() -> None:
    hotel, flow = _order_flow()
    ctx = at("order.quantity").evolve(hotel_id=hotel.hotel_id, department="room_service")
    menu = render_step(hotel, ctx, flow, flow.steps[StepId("category")], "Fingerprinted")
    assert shared(menu.body)
    notice = text_message("Noted.")
    cases: list[list[Mapping[str, object]]] = [
        [menu.body], [menu.body], [notice.body], [notice.body, menu.body], [dict(menu.body)]]
    for bodies in cases:
        assert guards_module._fingerprint(bodies) == _plain_fingerprint(bodies)
    assert id(menu.body) in guards_module._PRINTS  # a shared body's is kept
    assert id(notice.body) not in guards_module._PRINTS  # a one-off body's is not
    for n in range(guards_module._PRINTS_MAX + 10):
        body = render_step(hotel, ctx, flow, flow.steps[StepId("category")], f"n{n}").body
        assert guards_module._fingerprint([body]) == _plain_fingerprint([body])
    assert len(guards_module._PRINTS) <= guards_module._PRINTS_MAX


def _said_plainly(hotel: Hotel, key: str, ctx: Context) -> str:
    values = variables(hotel, ctx, None)
    return substitute(expand_plurals(string(hotel, key, ctx.language), values, ctx.language),
                      values)


def test_a_memoized_system_string_is_the_string_filled_afresh_for_each_guest() -> None:
    hotel, _ = _category()
    greeting = Text({"en": "Hi {guest_name}, {department} of {hotel_name} here.",
                     "pt": "Olá {guest_name}, {department} do {hotel_name}."})
    hotel = replace(hotel, strings={**hotel.strings, "welcome": greeting})
    base = at("order.quantity").evolve(hotel_id=hotel.hotel_id, department="room_service")
    guests = [base, base.evolve(guest_id="351922222222"), base.evolve(language="pt"),
              base.evolve(department="front_desk"),
              base.evolve(accumulated_data={"guest_name": "Ana"}),
              base.evolve(step_data={"hotel_name": "shadowed"}), base]
    said_ = [said(hotel, "welcome", ctx) for ctx in guests]
    assert said_ == [_said_plainly(hotel, "welcome", ctx) for ctx in guests]
    assert said_[0] == said_[1] == said_[6] and len(set(said_)) == 5
    assert "Hi Ana," in said_[4] and "of shadowed here" in said_[5]
    reloaded = replace(hotel, strings={**hotel.strings, "welcome": Text.of("Hello again")})
    assert said(reloaded, "welcome", base) == "Hello again"
    assert said(hotel, "welcome", base) == said_[0]


def test_system_strings_with_plurals_are_never_memoized_and_the_memo_is_bounded() -> None:
    hotel, _ = _category()
    plural = Text.of("{order_count, plural, one {# item} other {# items}}")
    hotel = replace(hotel, strings={**hotel.strings, "counted": plural})
    ctx = at("order.quantity").evolve(hotel_id=hotel.hotel_id, department="room_service")
    for count in ("1", "3"):
        known = ctx.evolve(accumulated_data={"order_count": count})
        assert said(hotel, "counted", known) == _said_plainly(hotel, "counted", known)
    assert said(hotel, "counted", ctx) == plural.get("en", "en")
    assert all(key[1] != "counted" for key in render_module._SAID)
    for n in range(render_module._SAID_MAX + 10):
        said(hotel, "welcome", ctx.evolve(department=f"dept{n}"))
    assert len(render_module._SAID) <= render_module._SAID_MAX


@pytest.mark.parametrize("text", ["2", "2.", " 2 ", "chá", "CAFE", "1. Cafe com leite",
                                  "3", "0", "tea please", "", "12 tea"])
def test_matching_in_a_built_title_index_is_match_choice(text: str) -> None:
    titles = [["Café", "Cafe com leite"], ["Tea", "Chá"], ["Tea", "Water"]]
    assert match_indexed(title_index(titles), len(titles), text) == match_choice(titles, text)


def test_a_memoized_title_index_is_the_index_of_the_titles_filled_afresh() -> None:
    hotel, flow = _order_flow()
    category = flow.steps[StepId("category")]
    ctx = at("order.quantity").evolve(hotel_id=hotel.hotel_id, department="room_service")
    values = variables(hotel, ctx, flow)
    fresh = title_index([entry_titles(e, values) for e in step_entries(hotel, category)])
    index = entry_index(hotel, ctx, flow, category)
    assert index == fresh and entry_index(hotel, ctx, flow, category) is index
    named = replace(category, options=(replace(category.options[0],
                                               title=Text.of("Room {room}")),
                                       *category.options[1:]))
    for room in ("101", "202"):
        guest = ctx.evolve(accumulated_data={"room": room})
        assert entry_index(hotel, guest, flow, named)[f"room {room}"] == 0
    renamed = replace(category, options=(replace(category.options[0], title=Text.of("Soup")),
                                         *category.options[1:]))
    reloaded = replace(hotel, flows={**hotel.flows, flow.id: replace(
        flow, steps={**flow.steps, category.id: renamed})})
    assert "soup" in entry_index(reloaded, ctx, flow, renamed)
    assert "soup" not in entry_index(hotel, ctx, flow, category)
    confirm = flow.steps[StepId("confirm")]  # its titles are the hotel's strings
    assert "yes, send it" not in entry_index(hotel, ctx, flow, confirm)
    worded = replace(hotel, strings={**hotel.strings, "confirm": Text.of("Yes, send it")})
    assert entry_index(worded, ctx, flow, confirm)["yes, send it"] == 0
    for n in range(render_module._INDEXES_MAX + 10):
        entry_index(hotel, ctx, flow, replace(category, id=StepId(f"s{n}")))
    assert len(render_module._INDEXES) <= render_module._INDEXES_MAX


def test_the_kinds_a_text_is_are_the_kinds_whose_words_hold_it() -> None:
    hotel, _ = _category()
    every = {word for per_language in hotel.words.values()
             for word in in_any_language(per_language)}
    for norm in [*every, "not a word", "", "menu please"]:
        expected = {kind for kind, per_language in hotel.words.items()
                    if norm in in_any_language(per_language)}
        assert kinds_of(hotel.words, norm) == expected, norm
    assert kinds_of(hotel.words, "stop") == {"stop"}
    reloaded = {**hotel.words, "stop": {"en": frozenset({"halt"})}}
    assert kinds_of(reloaded, "halt") == {"stop"} and "stop" not in kinds_of(reloaded, "stop")
    assert kinds_of(hotel.words, "stop") == {"stop"}  # the old table's own answer
    for n in range(text_module._KINDS_MAX + 5):
        kinds_of({"menu": {"en": frozenset({f"w{n}"})}}, f"w{n}")
    assert len(text_module._KINDS) <= text_module._KINDS_MAX


def test_a_global_word_is_any_word_of_the_hotel_but_small_talk() -> None:
    hotel, _ = _category()
    for kind, per_language in hotel.words.items():
        for word in in_any_language(per_language):
            expected = any(word in in_any_language(words) for other, words in
                           hotel.words.items() if other != "thanks")
            assert _global_word(hotel, TextReceived(text=word.upper())) is expected, (kind, word)
    assert _global_word(hotel, TextReceived(text="I would like a towel")) is False
    assert _global_word(hotel, OptionChosen(reply_id="menu")) is False


def _plain_names(option: Option, said: str) -> bool:
    return any(words_module._tokens(phrase) in said
               for phrases in option.keywords.values() for phrase in phrases)


@pytest.mark.parametrize("text", ["Can I extend my stay?", "late check-out please", "checkin",
                                  "I want to leave LATER", "extension", "hello", "", "stay"])
def test_memoized_keyword_phrases_name_the_options_the_phrases_name(text: str) -> None:
    hotel, _ = _category()
    said = words_module._tokens(text)
    for dept in hotel.departments.values():
        menus = words_module._first_menus(hotel, dept)
        assert words_module._first_menus(hotel, dept) is menus
        for flow, start in menus:
            assert start.kind is StepKind.MENU and start.id == flow.start
            for option in start.options:
                assert words_module._names(option, said) is _plain_names(option, said)


def test_keyword_memos_follow_a_reload_and_are_bounded() -> None:
    hotel, _ = _category()
    dept = hotel.departments[Dept("front_desk")]
    main = hotel.flows[dept.main_flow]
    start = main.steps[main.start]
    option = replace(start.options[0], keywords={"en": ("upgrade my room",)})
    said = words_module._tokens("could you upgrade my room")
    assert not any(words_module._names(o, said) for o in start.options)
    assert words_module._names(option, said)
    edited = replace(main, steps={**main.steps, start.id: replace(
        start, options=(option, *start.options[1:]))})
    reloaded = replace(hotel, flows={**hotel.flows, main.id: edited})
    assert words_module._first_menus(reloaded, dept)[0][1].options[0] is option
    assert words_module._first_menus(hotel, dept)[0][1] is start
    for n in range(words_module._PHRASES_MAX + 10):
        words_module._phrases(replace(option, id=f"o{n}"))
    assert len(words_module._PHRASES) <= words_module._PHRASES_MAX
    for n in range(words_module._MENUS_MAX + 10):
        words_module._first_menus(hotel, replace(dept, main_flow=FlowId(f"f{n}")))
    assert len(words_module._MENUS) <= words_module._MENUS_MAX


def test_a_memoized_summary_list_is_the_list_worked_out_afresh() -> None:
    hotel, _ = _category()
    confirms = [(flow, step_) for flow in hotel.flows.values() for step_ in flow.steps.values()
                if step_.kind is StepKind.CONFIRM]
    assert confirms
    for flow, confirm in confirms:
        for lang in hotel.languages:
            names = summary_names(flow, confirm, lang, hotel.default_language)
            assert names == render_module._summary_names(flow, confirm, lang,
                                                         hotel.default_language)
            assert summary_names(flow, confirm, lang, hotel.default_language) is names
    flow, confirm = confirms[0]
    listed = summary_names(flow, confirm, "en", "en")
    named = replace(confirm, text=Text.of("{" + "}, {".join(listed) + "}: right?"))
    assert listed and not set(summary_names(flow, named, "en", "en")) & set(listed)
    for n in range(render_module._SUMMARIES_MAX + 10):
        summary_names(flow, confirm, f"x{n}", "en")
    assert len(render_module._SUMMARIES) <= render_module._SUMMARIES_MAX


@pytest.mark.parametrize(("shared", "kept"), [
    ({"room": "412", "n": 2}, True),  # the same data, read anew (a snapshot): no copy
    ({"n": 2, "room": "412"}, False),  # another order: a snapshot would read otherwise
    ({"room": "412", "n": 2.0}, False),  # 2.0 is not 2 in a snapshot
    ({"room": "412", "n": True}, False),
    ({"room": "412"}, False),
    ({"room": "413", "n": 2}, False),
])
def test_a_guest_s_data_read_anew_is_merged_without_a_copy_only_when_it_reads_alike(
        shared: dict[str, JSONScalar], kept: bool) -> None:
    ctx = at("order.quantity").evolve(accumulated_data={"room": "412", "n": 2})
    merged = engine_module._merged(ctx, Guest(data=shared, language=ctx.language))
    assert (merged is ctx) is kept
    assert merged.to_dict() == ctx.evolve(accumulated_data=shared).to_dict()
    assert list(merged.accumulated_data.items()) == list(shared.items())
    assert [type(v) for v in merged.accumulated_data.values()] == [type(v) for v in
                                                                   shared.values()]
