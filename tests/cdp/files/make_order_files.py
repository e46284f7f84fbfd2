"""Writes the order-export fixtures beside this file: `python tests/cdp/files/make_order_files.py`.

Headers are the marketplaces' own (see siyu.cdp.order_presets); phones are the test range 1380013xxxx.
"""

import csv
import io
from pathlib import Path

from openpyxl import Workbook

HERE = Path(__file__).parent

YOUZAN_HEADER = ["订单号", "订单状态", "下单时间", "付款时间", "商品名称", "规格编码", "商品单价", "商品数量",
                 "订单实付金额", "买家昵称", "买家手机号", "收货人手机号", "退款状态"]
# Line 1 is the header. Lines 4, 7 and 9 are malformed: an amount that is not a number, a time nobody can read,
# a quantity of zero. E20240102 has two items, on lines 3 and 5 (Youzan writes one row per item).
YOUZAN_ROWS = [
    ["E20240101", "交易完成", "2024-01-01 10:00:00", "2024-01-01 10:01:00", "白茶饼", "WT-357", "98.00", "2",
     "196.00", "茶友小林", "13800138001", "13800138001", ""],
    ["E20240102", "已发货", "2024-01-02 11:00:00", "2024-01-02 11:05:00", "香薰蜡烛", "C-1", "88.50", "1",
     "150.00", "阿May", "13800138002", "", ""],
    ["E20240103", "交易完成", "2024-01-03 12:00:00", "2024-01-03 12:00:30", "白茶饼", "WT-357", "98.00", "1",
     "12.3.4", "老周", "13800138003", "", ""],
    ["E20240102", "已发货", "2024-01-02 11:00:00", "2024-01-02 11:05:00", "茶杯", "CUP-1", "61.50", "1",
     "150.00", "阿May", "13800138002", "", ""],
    ["E20240104", "待发货", "2024-01-04 09:30:00", "2024-01-04 09:31:00", "茶杯", "CUP-1", "61.50", "2",
     "123.00", "", "", "138-0013-8004", ""],
    ["E20240105", "交易完成", "昨天下午", "", "白茶饼", "WT-357", "98.00", "1",
     "98.00", "小吴", "13800138005", "", ""],
    ["E20240106", "交易关闭", "2024-01-06 20:00:00", "2024-01-06 20:10:00", "香薰蜡烛", "C-1", "88.50", "1",
     "88.50", "Ann", "13800138006", "", "退款成功"],
    ["E20240107", "交易完成", "2024-01-07 08:00:00", "2024-01-07 08:01:00", "茶杯", "CUP-1", "61.50", "0",
     "0.00", "大熊", "13800138007", "", ""],
]

TAOBAO_HEADER = ["订单编号", "买家会员名", "买家支付宝账号", "买家应付货款", "买家应付邮费", "总金额", "买家实际支付金额",
                 "订单状态", "买家留言", "收货人姓名", "收货地址", "联系电话", "联系手机", "订单创建时间", "订单付款时间",
                 "宝贝标题", "宝贝种类", "商家编码", "宝贝总数量", "退款金额"]
TAOBAO_ROWS = [
    ['="3850112233445566778"', "tb林小姐", "l***@163.com", "168.00", "0.00", "168.00", "158.00",
     "交易成功", "", "林**", "上海市 浦东新区", "", "'13800138011", "2023-11-11 00:01:02", "2023-11-11 00:01:30",
     "【双11】明前龙井 礼盒装", "1", "LJ-2023", "1", "0.00"],
    ['="3850112233445566779"', "tb王先生", "w***@qq.com", "99.00", "10.00", "109.00", "109.00",
     "买家已付款，等待卖家发货", "尽快发货", "王**", "杭州市 西湖区", "", "13800138012", "2023-11-12 08:00:00",
     "2023-11-12 08:00:10", "紫砂壶", "1", "ZS-1", "1", "0.00"],
]

XIAOE_HEADER = ["订单号", "用户昵称", "手机号", "商品名称", "实收金额", "下单时间", "支付时间", "订单状态"]
XIAOE_ROWS = [
    ["o_2024020112345", "学员A", "13800138021", "茶艺入门课", "199.00", "2024-02-01 19:00:00", "2024-02-01 19:00:40",
     "已支付"],
    ["o_2024020212346", "学员B", "13800138022", "茶艺进阶课", "299.00", "2024-02-02 19:00:00", "2024-02-02 19:02:00",
     "已退款"],
]

# A brand's own POS export: its headers need a custom mapping.
CUSTOM_HEADER = ["小票号", "消费时间", "会员手机", "货品", "货号", "件数", "单价", "应收"]
CUSTOM_ROWS = [
    ["POS-0001", "2024/03/01 15:20", "13800138031", "白茶饼", "WT-357", "3", "98", "294"],
    ["POS-0002", "2024/03/02 16:00", "13800138032", "茶杯", "CUP-1", "1", "61.5", "61.5"],
]


def write_csv(name: str, header, rows, encoding: str) -> None:
    buffer = io.StringIO(newline="")
    writer = csv.writer(buffer)
    writer.writerow(header)
    writer.writerows(rows)
    (HERE / name).write_bytes(buffer.getvalue().encode(encoding))


def main() -> None:
    write_csv("youzan_3_bad.csv", YOUZAN_HEADER, YOUZAN_ROWS, "utf-8-sig")
    write_csv("taobao_gbk.csv", TAOBAO_HEADER, TAOBAO_ROWS, "gbk")
    write_csv("custom_pos.csv", CUSTOM_HEADER, CUSTOM_ROWS, "utf-8")
    book = Workbook()
    sheet = book.active
    sheet.append(XIAOE_HEADER)
    for row in XIAOE_ROWS:
        sheet.append(row[:4] + [float(row[4])] + row[5:])
    book.save(HERE / "xiaoe.xlsx")


if __name__ == "__main__":
    main()
