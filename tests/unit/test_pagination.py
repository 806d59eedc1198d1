"""The list helpers every keyset-paginated service shares."""
import operator

from sqlalchemy import column, select

from carbon_credits.services.pagination import take_page, where_given


def test_where_given_keeps_only_the_filters_that_were_given():
    query = where_given(select(column("a")), (column("kind"), operator.eq, "earn"),
                        (column("at"), operator.ge, None), (column("b"), operator.eq, ""))
    where = str(query).split("WHERE", 1)[1]
    assert "kind = :kind_1" in where and "at" not in where and "b =" not in where


def test_where_given_with_nothing_given_leaves_the_query_alone():
    query = select(column("a"))
    assert str(where_given(query, (column("x"), operator.lt, None))) == str(query)


def test_take_page_returns_the_cursor_only_when_more_rows_exist():
    assert take_page([1, 2, 3], 2, lambda r: (r,)) == ([1, 2], (2,))
    assert take_page([1, 2], 2, lambda r: (r,)) == ([1, 2], None)
    assert take_page([], 2, lambda r: (r,)) == ([], None)
