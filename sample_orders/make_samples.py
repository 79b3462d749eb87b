"""Writes the sample customer files in this folder (run from the repo root: python sample_orders/make_samples.py).

The names mix ordinary customers with restricted parties written the way customer masters really
hold them: legal names, brand names, subsidiaries, typos, Chinese script, look-alike letters.
"""

from __future__ import annotations

import csv
from pathlib import Path

import xlsxwriter

HERE = Path(__file__).resolve().parent

CUSTOMERS = [
    # (customer id, name, country, address)
    ("C-1001", "Mouser Electronics Inc", "US", "1000 N Main St, Mansfield, TX"),
    ("C-1002", "Hangzhou Hikvision Digital Technology Co., Ltd", "CN", "555 Qianmo Road, Binjiang District, Hangzhou"),
    ("C-1003", "Haier Smart Home Co., Ltd.", "CN", "Haier Industrial Park, Qingdao"),
    ("C-1004", "Arrow Electronics Asia Ltd", "HK", "Kowloon Bay, Hong Kong"),
    ("C-1005", "HIKVISION EUROPE B.V.", "NL", "Neptunus 12, Hoofddorp"),
    ("C-1006", "Tata Consultancy Services Ltd", "IN", "Nirmal Building, Nariman Point, Mumbai"),
    ("C-1007", "Zhejiang Dahua Tech Co Ltd", "CN", "1199 Bin'an Road, Hangzhou"),
    ("C-1008", "BYD Company Limited", "CN", "Pingshan District, Shenzhen"),
    ("C-1009", "W.W. Grainger, Inc.", "US", "100 Grainger Pkwy, Lake Forest, IL"),
    ("C-1010", "Huawei Technologies Deutschland GmbH", "DE", "Hansaallee 205, Düsseldorf"),
    ("C-1011", "Lenovo (Beijing) Limited", "CN", "Haidian District, Beijing"),
    ("C-1012", "Midea Group Co., Ltd.", "CN", "Beijiao, Foshan"),
    ("C-1013", "SenseTime Japan KK", "JP", "Kyoto"),
    ("C-1014", "Foxconn Industrial Internet Co., Ltd.", "CN", "Shenzhen"),
    ("C-1015", "Schaeffler Technologies AG & Co. KG", "DE", "Herzogenaurach"),
    ("C-1016", "科大讯飞股份有限公司", "CN", "安徽省合肥市"),
    ("C-1017", "Hikari Vision Optics Corp", "JP", "Osaka"),
    ("C-1018", "Megvii Tech Ltd", "CN", "Haidian District, Beijing"),
    ("C-1019", "Beijing Xiaomi Electronics Co., Ltd.", "CN", "Beijing"),
    ("C-1020", "", "US", "(name missing in ERP)"),
    ("C-1021", "Sensata Technologies Holding plc", "GB", "Swindon"),
    ("C-1022", "YITU Technology Co. Ltd", "CN", "Shanghai"),
    ("C-1023", "Pico Technology Ltd", "GB", "St Neots, Cambridgeshire"),
    ("C-1024", "Dahlin Technology Inc", "US", "San Jose, CA"),
    ("C-1025", "Shenzhen Digital Technology Co., Ltd.", "CN", "Nanshan District, Shenzhen"),
    ("C-1026", "Xiamen Meiya Pico Information Co Ltd", "CN", "Xiamen Software Park"),
    ("C-1027", "Hon Hai Precision Industry Co., Ltd.", "TW", "New Taipei City"),
    ("C-1028", "Avnet Asia Pte Ltd", "SG", "Singapore"),
    ("C-1029", "Нuawei Technologies Co Ltd", "CN", "Bantian, Longgang District, Shenzhen"),  # Cyrillic Н
    ("C-1030", "Siemens AG", "DE", "Werner-von-Siemens-Str. 1, Munich"),
    ("C-1031", "Rohde & Schwarz GmbH & Co KG", "DE", "Munich"),
    ("C-1032", "iFlytek Co., Limited", "CN", "Hefei, Anhui"),
    ("C-1033", "Xinjiang Goldwind Science & Technology Co., Ltd.", "CN", "Urumqi"),
    ("C-1034", "Digi-Key Electronics", "US", "Thief River Falls, MN"),
    ("C-1035", "Sugon Information Industry Co., Ltd.", "CN", "Beijing"),
]

END_USERS = [
    ("E-01", "Urumqi Municipal PSB", "CN"),
    ("E-02", "Xinjiang University", "CN"),
    ("E-03", "新疆警察学院", "CN"),
    ("E-04", "Guangzhou Public Security Bureau", "CN"),
    ("E-05", "Wuxi Jiangnan Institute of Computing Technology", "CN"),
    ("E-06", "Nanyang Technological University", "SG"),
    ("E-07", "Kashi Prefecture Public Security Bureau", "CN"),
    ("E-08", "Fraunhofer IIS", "DE"),
]

ORDERS = [
    # order number, consignee, country, city
    ("SO-88121", "Digi-Key Electronics", "US", "Thief River Falls"),
    ("SO-88122", "Chengdu Haiguang Integrated Circuit Design Co., Ltd.", "CN", "Chengdu"),
    ("SO-88123", "Flex Ltd", "SG", "Singapore"),
    ("SO-88124", "Dawning Information Industry Co Ltd", "CN", "Tianjin"),
    ("SO-88125", "Jabil Circuit (Shanghai) Co., Ltd.", "CN", "Shanghai"),
    ("SO-88126", "Yixin Science & Technology Co.", "CN", "Urumqi"),
    ("SO-88127", "STMicroelectronics Pte Ltd", "SG", "Singapore"),
    ("SO-88128", "Ｈｉｋｖｉｓｉｏｎ Digital", "CN", "Hangzhou"),
    ("SO-88129", "Celestica Inc", "CA", "Toronto"),
    ("SO-88130", "Higon Information Technology Co Ltd", "CN", "Beijing"),
    ("SO-88131", "Pegatron Corporation", "TW", "Taipei"),
    ("SO-88132", "Tulufan City Public Security Bureau", "CN", "Turpan"),
    ("SO-88133", "Quanta Computer Inc", "TW", "Taoyuan"),
    ("SO-88134", "大华技术股份有限公司", "CN", "杭州"),
    ("SO-88135", "Sanmina Corporation", "US", "San Jose"),
    ("SO-88136", "Wistron Corporation", "TW", "Taipei"),
]

CLEAN = [
    ("Acme Industrial Supply Co", "US"), ("Nordic Precision AB", "SE"), ("Société Générale de Câbles", "FR"),
    ("Müller Antriebstechnik GmbH", "DE"), ("Osaka Seimitsu Kogyo KK", "JP"), ("Tata Elxsi Ltd", "IN"),
    ("Shenzhen Inovance Technology Co., Ltd.", "CN"), ("Hangzhou Robam Appliances Co., Ltd.", "CN"),
    ("Public Security Equipment Trading Co", "US"), ("Vision Systems Ltd", "GB"),
    ("Wesco Distribution Canada", "CA"), ("Grupo Bimbo S.A.B. de C.V.", "MX"),
]


def write_xlsx() -> None:
    wb = xlsxwriter.Workbook(HERE / "customer_master.xlsx")
    bold = wb.add_format({"bold": True})
    ws = wb.add_worksheet("Customers")
    for col, head in enumerate(["Customer ID", "Customer Name", "Country", "Address"]):
        ws.write_string(0, col, head, bold)
    for r, row in enumerate(CUSTOMERS, start=1):
        for c, value in enumerate(row):
            ws.write_string(r, c, value)
    ws.set_column(1, 1, 48)
    ws.set_column(3, 3, 44)
    eu = wb.add_worksheet("End users")
    for col, head in enumerate(["Ref", "End User", "Country"]):
        eu.write_string(0, col, head, bold)
    for r, row in enumerate(END_USERS, start=1):
        for c, value in enumerate(row):
            eu.write_string(r, c, value)
    eu.set_column(1, 1, 48)
    wb.close()


def write_csvs() -> None:
    with (HERE / "open_orders.csv").open("w", encoding="utf-8", newline="") as fh:
        w = csv.writer(fh)
        w.writerow(["Order No", "Consignee", "Country", "City"])
        w.writerows(ORDERS)
    with (HERE / "clean_customers_cp1252.csv").open("w", encoding="cp1252", newline="") as fh:
        w = csv.writer(fh, delimiter=";")
        w.writerow(["Kunde", "Company", "Land"])
        for i, (name, country) in enumerate(CLEAN, start=1):
            w.writerow([f"K{i:04d}", name, country])


if __name__ == "__main__":
    write_xlsx()
    write_csvs()
