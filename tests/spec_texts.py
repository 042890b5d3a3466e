"""The stat texts as the documents give them (spec §4 table; 111 and 115 from
PROTOCOL.md), copied here rather than imported so tests catch a wrong text."""

STAT_TEXTS: dict[int, str] = {
    100: "发送成功",
    101: "验证失败",
    102: "短信不足",
    103: "操作失败",
    104: "非法字符",
    105: "内容过多",
    106: "号码过多",
    107: "频率过快",
    108: "号码内容空",
    109: "账号冻结",
    110: "禁止频繁单条发送",
    111: "系统暂停发送",
    112: "号码错误",
    113: "定时时间格式不对",
    114: "账号被锁，10分钟后登录",
    115: "连接失败",
    116: "禁止接口发送",
    117: "绑定IP不正确",
    120: "系统升级",
}
