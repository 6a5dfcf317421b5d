"""What each audit action is called on the desk's pages: staff read "承認", not ``booking.approve``.

Pairs (Japanese, English) rather than catalog messages: several of these words already stand in
the catalogs for other things (a count of no-shows, a page title) with other English texts, and
the catalogs are merged into one. An action not listed shows its code.
"""

from __future__ import annotations

import re

from ..models.facility import name_in

ACTION_LABELS: dict[str, tuple[str, str]] = {
    "booking.created": ("予約の申込み", "Booking made"),
    "booking.approve": ("承認", "Approved"),
    "booking.reject": ("不承認", "Rejected"),
    "booking.confirm": ("確定（支払い済み）", "Confirmed (paid)"),
    "booking.cancel": ("取消し", "Cancelled"),
    "booking.check_in": ("受付", "Checked in"),
    "booking.no_show": ("無断不使用の記録", "Recorded as a no-show"),
    "booking.release": ("仮予約の期限切れ解除", "Hold released (deadline passed)"),
    "booking.complete": ("利用終了", "Completed"),
    "closure.added": ("休館・休室の登録", "Closure added"),
    "closure.emergency": ("臨時休館", "Emergency closure"),
    "group.applied": ("団体登録の申請", "Registration applied for"),
    "group.registered": ("団体の登録", "Group registered"),
    "group.renewed": ("登録の更新", "Registration renewed"),
    "group.suspended": ("登録の停止", "Registration suspended"),
    "group.renamed": ("団体名・種類の変更", "Name or kind changed"),
    "group.details_updated": ("団体情報の変更", "Group details changed"),
    "group.member_added": ("会員の追加", "Member added"),
    "group.member_invited": ("会員の招待", "Member invited"),
    "group.member_joined": ("会員の参加", "Member joined"),
    "group.member_left": ("会員の脱退", "Member left"),
    "group.member_removed": ("会員の削除", "Member removed"),
    "group.representative_changed": ("代表者の交代", "Representative changed"),
    "feed_token.created": ("カレンダー配信URLの発行", "Calendar feed link issued"),
    "feed_token.regenerated": ("カレンダー配信URLの再発行", "Calendar feed link reissued"),
    "feed_token.revoked": ("カレンダー配信URLの無効化", "Calendar feed link disabled"),
    "api_token.created": ("APIトークンの発行", "API token issued"),
    "api_token.revoked": ("APIトークンの無効化", "API token disabled"),
    "admin.facility_created": ("施設の追加", "Facility added"),
    "admin.facility_updated": ("施設の設定変更", "Facility settings changed"),
    "admin.room_created": ("部屋の追加", "Room added"),
    "admin.room_updated": ("部屋の設定変更", "Room settings changed"),
    "admin.staff_facilities": ("職員の担当施設の変更", "Staff member's facilities changed"),
    "admin.staff_invited": ("職員の招待", "Staff member invited"),
    "admin.user_activated": ("アカウントの有効化", "Account enabled"),
    "admin.user_deactivated": ("アカウントの無効化", "Account disabled"),
    "mail.retry": ("メールの再送", "Mail resent"),
    "mail.redirected": ("メールを別の宛先に再送", "Mail resent to another address"),
    "user.signed_up": ("利用者登録", "Signed up"),
    "user.profile_updated": ("利用者情報の変更", "Profile changed"),
    "user.password_changed": ("パスワードの変更", "Password changed"),
    "user.password_reset": ("パスワードの再設定", "Password reset"),
    "user.password_reset_requested": ("パスワード再設定の依頼", "Password reset requested"),
}


def action_label(code: str, language: str) -> str:
    pair = ACTION_LABELS.get(code)
    return code if pair is None else name_in(language, *pair)


# Notes our own code writes (user-entered reasons are shown as they are).
_SYSTEM_NOTES: dict[str, tuple[str, str]] = {
    "scheduler": ("自動処理", "Automatic (scheduler)"),
    "bulk": ("一括承認", "Approved in bulk"),
    "auto-confirm after claim deadline": ("期限後の自動確定", "Confirmed automatically after the claim deadline"),
}
_PAYMENT_NOTE = re.compile(r"(cash|bank_transfer|exempt) (\d+)")
_LATE_NOTE = re.compile(r"late (\d+) min")


def note_text(action: str, note: str, language: str) -> str:
    """An event's note for staff: the notes the system writes in words ("cash 500" → "窓口で現金
    500円"), anything else as written."""
    pair = _SYSTEM_NOTES.get(note)
    if pair is not None:
        return name_in(language, *pair)
    if action == "booking.confirm" and (m := _PAYMENT_NOTE.fullmatch(note)):
        from .booking import yen
        from .desk import PAYMENT_LABELS

        return f"{PAYMENT_LABELS[m.group(1)]} {yen(int(m.group(2)), language)}"
    if action == "booking.check_in" and (m := _LATE_NOTE.fullmatch(note)):
        return f"{m.group(1)} min late" if language == "en" else f"{m.group(1)}分遅れ"
    return note
