"""The words a supervisor reads: column labels and titles in the site's language
(`company.language`). CSV and JSON keep the column keys, which tools read; tables, `top` and
the HTML page show these labels."""

from __future__ import annotations

__all__ = ["LANGUAGES", "label", "state_label", "title"]

LANGUAGES = ("en", "zh")

# column key -> Chinese label (English: the key with spaces)
_ZH = {
    "selection": "范围", "hour": "时段", "weekday": "星期", "queue": "队列", "site": "职场",
    "agent": "坐席", "calls": "来电", "calls_answered": "人工接通",
    "call_answer_rate": "来电接通率", "calls_unanswered": "未接通来电",
    "offered": "呼入量", "answered": "接通量", "answer_rate": "接通率", "abandoned": "放弃",
    "short_abandoned": "短时放弃", "abandoned_ringing": "振铃中放弃", "asa_s": "平均应答秒",
    "avg_wait_s": "平均等待秒", "max_wait_s": "最长等待秒", "service_level": "服务水平",
    "service_level_offered": "服务水平÷呼入", "aht_s": "平均处理秒",
    "callbacks_requested": "回呼请求", "callbacks_completed": "回呼完成",
    "overflowed": "溢出", "transferred": "转接", "unstaffed": "无坐席", "unfinished": "未结束",
    "handled": "处理量", "missed_rings": "未接振铃", "talk_s": "通话秒", "wrap_s": "话后秒",
    "logged_in_min": "登录分钟", "paused_min": "小休分钟", "pause_by_reason": "小休原因",
    "occupancy": "占用率", "trunk": "中继", "route": "路由", "direction": "方向",
    "failed": "失败", "failure_rate": "失败率", "flow": "流程", "last_node": "最后节点",
    "outcome": "结果", "share": "占比", "question": "问题", "answers": "回答数",
    "average": "平均分", "scale": "满分", "satisfied": "满意率", "distribution": "分布",
    "figure": "指标", "value": "数值",
    # surveys (docs/surveys.md)
    "by": "维度", "group": "分组", "surveyed": "邀评通话", "participated": "参评通话",
    "participation": "参评率", "csat": "满意度CSAT", "timeouts": "超时", "wrong_keys": "按错键",
    # the wallboard (`top`)
    "waiting": "排队", "longest": "最长等待", "ready": "空闲", "busy": "忙碌",
    "paused": "小休", "logged_in": "已登录", "service_level_now": "服务水平", "name": "姓名",
    "state": "状态", "reason": "原因", "in_state": "持续", "phone": "话机",
    # outbound (reports/outbound.py, `campaign`, `top`)
    "campaign": "外呼活动", "kind": "类型", "attempts": "外呼次数", "reached": "接通",
    "confirm_rate": "确认率", "confirmed": "已确认", "no_input": "未按键",
    "person": "转人工", "opted_out": "退订", "hangup": "中途挂断", "machine": "答录机",
    "no_answer": "无人接听", "line_busy": "占线", "rejected": "运营商拒绝",
    "refused": "策略拒绝", "unknown": "结果未知", "in_progress": "进行中",
    "jobs_refused": "任务被拒", "jobs_expired": "任务过期", "caller_id_kind": "主叫号码类型",
    "jobs": "任务数", "target_s": "目标秒", "p50_s": "中位秒", "p90_s": "P90秒",
    "max_s": "最长秒", "within_target": "达标率", "dialling": "呼叫中", "pending": "待呼",
    "done_today": "今日完成", "given_up_today": "今日放弃", "window": "可呼时段",
    "concurrency": "并发", "result": "结果",
}
_EN = {"in_state": "in state", "service_level_now": "service level", "asa_s": "ASA s",
       "aht_s": "AHT s", "service_level_offered": "SL of offered", "csat": "CSAT"}

_TITLES_ZH = {
    "Summary": "汇总", "By hour of day": "按时段", "By weekday": "按星期",
    "By queue": "按队列", "By site": "按职场", "By agent": "按坐席",
    "By trunk and route": "按中继与路由", "Where calls leave the IVR flows": "IVR 流程去向",
    "Satisfaction surveys": "满意度调查", "Queues": "队列", "Queues now": "队列实时",
    "Today": "今日", "Agents": "坐席", "No calls yet": "尚无来电",
    "Outbound calls by campaign": "外呼（按活动）", "Outbound calls by hour": "外呼（按时段）",
    "Outbound calls by caller-ID kind": "外呼（按主叫号码类型）",
    "Outbound calls by trunk": "外呼（按中继）",
    "Outbound lateness against the target": "外呼及时性", "Outbound now": "外呼实时",
    "Campaigns": "外呼活动", "Attempts by result": "外呼结果",
}


def label(key: str, language: str = "en") -> str:
    """What a table's header shows for the column `key`."""
    if language == "zh" and key in _ZH:
        return _ZH[key]
    return _EN.get(key, key.replace("_", " "))


def title(text: str, language: str = "en") -> str:
    """A report's or table's title in the language (the English title when there is none)."""
    return _TITLES_ZH.get(text, text) if language == "zh" else text


_STATES_ZH = {"ready": "空闲", "ringing": "振铃", "on_call": "通话", "wrap_up": "话后",
              "paused": "小休", "logged_out": "未登录"}


def state_label(state: str, language: str = "en") -> str:
    """An agent's state as the wallboard shows it."""
    return _STATES_ZH.get(state, state) if language == "zh" else state
