// Plotly's Japanese: the modebar's titles, month and day names and the date formats Japanese
// readers expect. Served with our static files (no CDN); loaded after plotly.js on pages in
// Japanese, and chosen by the "locale" of the config core.charts.plotly_config renders.
Plotly.register({
  moduleType: "locale",
  name: "ja",
  dictionary: {
    "Autoscale": "自動スケール",
    "Box Select": "矩形で選択",
    "Compare data on hover": "ホバーでデータを比較",
    "Double-click on legend to isolate one trace": "凡例をダブルクリックすると、その系列だけを表示",
    "Double-click to zoom back out": "ダブルクリックでズームを戻す",
    "Download plot": "グラフをダウンロード",
    "Download plot as a PNG": "グラフを PNG で保存",
    "Download plot as JSON": "グラフを JSON で保存",
    "Image download succeeded": "画像を保存しました",
    "JSON download succeeded": "JSON を保存しました",
    "Lasso Select": "投げ縄で選択",
    "Pan": "移動",
    "Preparing image - this may take a few seconds": "画像を準備しています（数秒かかることがあります）",
    "Reset": "リセット",
    "Reset axes": "軸をリセット",
    "Reset view": "表示をリセット",
    "Reset views": "表示をリセット",
    "Show closest data on hover": "ホバーで最も近いデータを表示",
    "Sorry, there was a problem downloading your image!": "画像を保存できませんでした。",
    "Sorry, there was a problem downloading your JSON file!": "JSON を保存できませんでした。",
    "Toggle Spike Lines": "スパイクラインの表示を切り替え",
    "Toggle show closest data on hover": "ホバーで最も近いデータの表示を切り替え",
    "Zoom": "ズーム",
    "Zoom in": "拡大",
    "Zoom out": "縮小",
    "trace": "系列"
  },
  format: {
    days: ["日曜日", "月曜日", "火曜日", "水曜日", "木曜日", "金曜日", "土曜日"],
    shortDays: ["日", "月", "火", "水", "木", "金", "土"],
    months: ["1月", "2月", "3月", "4月", "5月", "6月", "7月", "8月", "9月", "10月", "11月", "12月"],
    shortMonths: ["1月", "2月", "3月", "4月", "5月", "6月", "7月", "8月", "9月", "10月", "11月", "12月"],
    periods: ["午前", "午後"],
    dateTime: "%Y年%-m月%-d日 %H:%M:%S",
    date: "%Y/%m/%d",
    time: "%H:%M:%S",
    decimal: ".",
    thousands: ",",
    grouping: [3],
    currency: ["¥", ""],
    year: "%Y年",
    month: "%Y年%-m月",
    dayMonth: "%-m月%-d日",
    dayMonthYear: "%Y年%-m月%-d日"
  }
});
